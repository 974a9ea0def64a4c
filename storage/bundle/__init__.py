"""Hash bundles: share the library between newsrooms as fingerprints and provenance, no media.

A newsroom exports its clips (``export_bundle``); another imports them (``import_bundle``) and
from then on recognises that footage too, with the first newsroom's provenance.  A bundle
carries no picture or sound, only the perceptual hashes matching needs and what is known about
each clip, so it can be shared where the footage itself could not.

Bundle format, version 1
========================

A bundle is a UTF-8 text file of JSON Lines: one JSON object per line, each line ended by
``\\n`` (LF).  It may be gzip-compressed as a whole; readers recognise gzip by its magic bytes
``1f 8b`` (not by the name), and oldclip writes gzip when the file name ends in ``.gz``.
Everything below, the checksum included, is about the uncompressed bytes.  Readers ignore
object keys they do not know (a later version 1 writer may add some); a change that an older
reader must not misread bumps ``version``.  No line may be longer than ``MAX_LINE_BYTES``
(32 MiB), ``\\n`` included.

Line 1, the header::

    {"format": "oldclip-bundle", "version": 1,
     "publisher": {"name": "Example Newsroom", "contact": "desk@example.org"},
     "created_at": "2026-11-23T18:04:55+00:00", "algorithm": "pdq-v1", "clips": 2}

- ``format`` (string): exactly ``"oldclip-bundle"``.
- ``version`` (integer): 1.  A reader refuses a version it does not know.
- ``publisher.name`` (non-empty string, no control characters): who made the bundle; the
  importer records ``"bundle from <name>"`` as who told its library about each new clip and
  source.  ``publisher.contact`` (string or null): how to reach them (e-mail, URL).
- ``created_at`` (string): when the bundle was written, ISO 8601 (oldclip writes UTC, to the
  second).
- ``algorithm`` (string): the fingerprint algorithm of every clip, ``"pdq-v1"``: PDQ, 256-bit
  hashes of frames sampled as oldclip's ``fingerprint`` package does.  A reader refuses an
  algorithm it does not use, since hashes of another algorithm would never match.
- ``clips`` (integer >= 0): the number of clip lines that follow.

Then one line per clip::

    {"sha256": "fec6434f...", "kind": "video", "duration": 22.43, "width": 480, "height": 720,
     "size": 2591827,
     "fingerprint": {"frames": 225, "hashes": "<base64>", "times": "<base64>",
                     "variants": "<base64>"},
     "clip": {"title": "...", "description": null, "first_seen": "2017-06-20",
              "source": "https://...", "verdict_url": null, "language": null, "tags": ["..."],
              "claim": null, "rating": null, "benign": false},
     "sources": [{"url": "https://...", "first_seen": "2017-06-20", "kind": "publication",
                  "title": null}]}

- ``sha256`` (string): 64 hex digits, the SHA-256 of the media file's bytes: the identity of the
  media (two bundles, or a bundle and a library, agree on a clip by it).  Lower case when
  written; any case is read.
- ``kind``: ``"video"`` or ``"photo"``.  ``duration`` (number >= 0, seconds, or null),
  ``width``, ``height``, ``size`` (integers >= 0 or null; size in bytes): as the file was.
- ``fingerprint.frames`` (integer >= 1): N, the number of hashed frame pictures.  ``hashes``,
  ``times`` and ``variants`` are standard base64 (RFC 4648 section 4, with ``=`` padding, no
  line breaks) of, respectively:

  - ``hashes``: N*32 bytes, the N PDQ hashes one after the other, 32 bytes each: bit i of the
    256-bit vector ``pdqhash.compute`` returns is bit ``7 - i % 8`` (most significant first)
    of byte ``i // 8`` (``numpy.packbits`` order);
  - ``times``: N*4 bytes, N little-endian IEEE 754 float32: the second of the media each
    picture was taken at (finite, >= 0; 0.0 for a photo);
  - ``variants``: N bytes, one unsigned byte per picture saying what was hashed (see
    ``fingerprint.types``): 0 an anchor frame whole, 1 its centre 80%, 2 mirrored,
    3 rotated/flipped (photos), 4 a close-up (9:16 centre cut), 5 a frame between anchors,
    whole.  Other codes are refused.

  The three arrays are in the same order (row i of each describes picture i), time order.
  oldclip writes only variants 0, 1, 4 and 5: the mirrored and turned pictures (2, 3) are
  computed for queries and never read from stored media (``fingerprint.match.verify`` looks
  at the stored side only through ``REFERENCE_VIEWS``, the index only at ``INDEXED_VARIANTS``),
  so omitting them saves about 37% of a video's bytes and 70% of a photo's and matches
  exactly the same (``tests/test_bundle.py`` checks both libraries' matches agree, mirrored
  reposts included).  (A fingerprint with none of those variants would be written whole.)
- ``signals`` (object, optional): the data of the signals other than PDQ (local features,
  sound: ``fingerprint.signal``), ``{"<name>": {"version": <int>, "data": "<base64>"}}``,
  each ``data`` the bytes that signal's ``dumps`` wrote.  Absent in bundles written before
  signals were plug-ins (they import as they always did, PDQ only).  A reader leaves out a
  signal it does not know or of another version, and refuses data its signal cannot read.
  A writer leaves out the largest signals of a clip whose line would pass ``MAX_LINE_BYTES``
  (local features of a video over an hour or so).
- ``clip``: what the publisher knows about the footage.  ``title`` (non-empty string),
  ``first_seen`` (``YYYY-MM-DD``, a real date: the earliest known publication) and ``source``
  (non-empty string: where that was) are required; ``description`` (what it really shows),
  ``verdict_url`` (a fact-check), ``language``, ``claim`` (the false claim a fact-check
  reviewed) and ``rating`` (its verdict) are strings or null; ``tags`` a list of strings;
  ``benign`` a boolean (a channel intro, logo or test card: never reported as old footage).
- ``sources``: every place the footage is known to have been published or fact-checked,
  earliest first: ``url`` (non-empty string), ``first_seen`` (``YYYY-MM-DD``), ``kind``
  (``"publication"`` or ``"factcheck"``), ``title`` (string or null).  The clip's own
  ``source`` is normally one of them.

Who at the publisher added a clip or a source (``added_by``/``via`` in their library) is not
exported: those are often people's accounts, and the bundle speaks for the publisher.

The last line, the trailer::

    {"end": true, "clips": 2, "sha256": "<64 hex digits>"}

- ``clips``: the number of clip lines again; it must equal the header's and the count read.
- ``sha256``: the lower-case hex SHA-256 of every byte before the trailer line (the header and
  every clip line, each with its ``\\n``).  A bundle without a trailer is incomplete.  Nothing
  may follow the trailer (its own final ``\\n`` is optional).

The checksum catches damage (a truncated download, a flipped bit, an edit), not forgery:
anyone can recompute it.  Trust a bundle as much as you trust the channel it came by.

Why JSON Lines and not a SQLite file: any language reads it with its standard library, it
streams in both directions with constant memory, ``zcat | head`` shows what is in it, and
opening a SQLite file from a stranger is an attack surface of its own (its schema, triggers
and page structure are the stranger's), while a JSON line is only data.  What a SQLite bundle
would save is small: on ``bench/bundle.py``'s 100,000 clips, reading and decoding the JSON
takes 2.3 s and base64 about 2 s of an import's 23 s of CPU, the rest being validation (which
an untrusted file needs in any format) and the library's own writes.  Base64 makes a bundle a
third bigger than its bytes; gzip wins most of it back (772 MB plain, 478 MB ``.gz``).

Importing
=========

``import_bundle`` reads the bundle as a stream in one write transaction and commits only once
the trailer's count and checksum agree, so a damaged, truncated or hostile bundle is refused
with a ``BundleError`` naming the line, what is wrong and what to do, and the database is left
exactly as it was.  Media are matched by sha256 (a library's own fingerprint of a file wins
over the bundle's); clips merge as ``storage.add_clip`` merges: every source is kept, the
earliest ``first_seen`` wins, empty fields are filled, tags added, the benign flag carried,
nothing already known is overwritten.  Importing the same bundle again changes nothing.

While it runs, an import holds the database's write lock: readers (the bot answering lookups)
go on, other writers wait up to their ``busy_timeout`` (5 s) and then fail with "database is
locked".  100,000 clips hold it for 20 to 40 s on a 2-core machine, so import large bundles
when the watchers are idle.  Parsing runs in a background thread, one batch ahead of the
writes (SQLite releases the GIL while it writes), and the page cache is raised to 64 MiB for
the import; memory stays flat whatever the bundle's size.

The modules, one job each
=========================

``spec``: the format's constants and the publisher fields both sides check, and BundleError;
``export``: writing a library to a bundle; ``reader``: reading a bundle's lines, header and
trailer (checksum, limits); ``validate``: checking one clip line; ``store``: writing validated
clips into the library; ``importer``: ``import_bundle``, which drives the reader and the store.
"""
