# ncnn is a compiled module without type information: every name is Any to the type checker.
from typing import Any

def __getattr__(name: str) -> Any: ...
