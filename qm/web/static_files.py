"""Static files served from folders, where a malformed name is simply not found.

Litestar's local file system turns a name the operating system refuses (an embedded NUL
byte, a name longer than the file system allows) into a 500; a request for such a name is
a request for a file that does not exist, so it answers 404 like any other.
"""

import errno
from pathlib import Path
from typing import Any

from litestar.file_system import BaseLocalFileSystem
from litestar.handlers import HTTPRouteHandler
from litestar.router import Router
from litestar.static_files import create_static_files_router
from litestar.types import PathType
from litestar.types.file_types import FileInfo

# Errors meaning "no file can have this name", not "the disk failed".
_BAD_NAME = {errno.ENAMETOOLONG, errno.EINVAL, errno.ENOTDIR, errno.ELOOP}


class NameCheckingFileSystem(BaseLocalFileSystem):
    """The local file system, with names no file can have reported as not found."""

    async def info(self, path: PathType, **kwargs: Any) -> FileInfo:
        """File info, or FileNotFoundError for a name the operating system refuses."""
        try:
            return await super().info(path, **kwargs)
        except ValueError as exc:  # embedded NUL byte
            raise FileNotFoundError(str(path)) from exc
        except OSError as exc:
            if exc.errno in _BAD_NAME:
                raise FileNotFoundError(str(path)) from exc
            raise


def static_files_router(path: str, directory: Path, name: str) -> HTTPRouteHandler | Router:
    """Serve the files of `directory` under `path`."""
    return create_static_files_router(
        path=path, directories=[directory], name=name, file_system=NameCheckingFileSystem()
    )
