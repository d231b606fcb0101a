"""Hatch build hook: put the prebuilt, stripped shared library into the wheel.

The library comes from $ASSET_CACHE_LIB, else ../../target/release (a
`cargo build --release --lib` of this checkout). It is stripped of debug
info (`strip --strip-unneeded`, as distributions strip shared libraries) and
the wheel is tagged for this platform and any Python 3 (the binding is
ctypes, not a CPython extension): py3-none-linux_<arch>. auditwheel then
checks the library's glibc symbol versions and retags it manylinux.
"""

import os
import shutil
import subprocess
import sysconfig
import tempfile

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

LIBRARY = "libasset_cache.so"


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        if self.target_name != "wheel":
            return
        default = os.path.join(self.root, "..", "..", "target", "release", LIBRARY)
        src = os.environ.get("ASSET_CACHE_LIB") or default
        if not os.path.isfile(src):
            raise RuntimeError(
                f"asset-cache wheel: no shared library at {src!r}. Build it first with "
                "`cargo build --release --lib` at the repository's root, or set ASSET_CACHE_LIB."
            )
        strip = shutil.which("strip")
        if strip is None:
            raise RuntimeError("asset-cache wheel: `strip` (binutils) is needed to strip the library")
        self._tmp = tempfile.mkdtemp(prefix="asset-cache-wheel-")
        dst = os.path.join(self._tmp, LIBRARY)
        shutil.copyfile(src, dst)
        subprocess.run([strip, "--strip-unneeded", dst], check=True)
        build_data["force_include"][dst] = f"asset_cache/{LIBRARY}"
        build_data["pure_python"] = False
        plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
        build_data["tag"] = f"py3-none-{plat}"

    def finalize(self, version, build_data, artifact_path):
        tmp = getattr(self, "_tmp", None)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
