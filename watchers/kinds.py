"""The names of the source kinds, without their modules: what `oldclip --help` lists.

Each name is also the module of ``watchers`` that implements it (``watchers.registry.KINDS``
imports them), so adding a source kind is one module and one name here.
"""

KIND_NAMES = ("rss", "telegram", "mastodon", "bluesky", "youtube", "reddit", "factcheck", "bundle")
