"""Workloads from callables no one at gilfree wrote, for ``gilfree compare --workload``.

From the repository root: ``gilfree compare --workload examples.zlib_blobs:workload``; from
this folder: ``gilfree compare --workload zlib_blobs:workload``. Each module's ``workload``
is a function that builds its data when called (at the README's full size by default), so
importing the module costs nothing; the tests call it with small sizes.
"""
