"""Settings › the dialog and its pages, one module each.

``dialog`` assembles the pages (``general``, ``output``, one ``account`` page per cloud
provider, with ``hosting`` inside the pages of providers that need it); ``status`` puts the
credit balance in the window's status bar and asks for the key file's passphrase;
``passphrase`` is that prompt. Every page reads and writes through a view-model in
``retouchdesk.model`` (accounts, general settings), never through services.
"""
