"""Headless MuJoCo rendering: the GL backend, chosen before MuJoCo is imported, and a small renderer
with a fixed camera, no shadows and no multisampling.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is first imported, so :func:`select_gl_backend`
runs before affordkit imports MuJoCo (`backends.require`). A value the user set is kept.
Otherwise EGL is used when an EGL display can be initialised (GPU or Mesa's software EGL),
else OSMesa when its library is present; with neither, rendering raises
:class:`~affordkit.errors.MissingDependencyError` naming the Debian packages.

Shadows and 4x multisampling are MuJoCo's defaults and cost about 10x at 48x48 on a CPU (Meta-World
push: 13 frames/s with them, about 145 without), for nothing a 48x48 image can show.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import os
import sys
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from affordkit.errors import MissingDependencyError

GL_PACKAGES = "libegl1 libgl1-mesa-dri libosmesa6"
EGL_PLATFORM_DEVICE_EXT = 0x313F


def _egl_works() -> bool:
    """Whether libEGL loads and one of its displays initialises, tried the way MuJoCo opens one
    (an EGL device through EGL_EXT_platform_device, then the default display); no context is made."""
    name = ctypes.util.find_library("EGL") or "libEGL.so.1"
    try:
        egl = ctypes.CDLL(name)
    except OSError:
        return False
    egl.eglGetProcAddress.restype = ctypes.c_void_p
    egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
    egl.eglGetDisplay.restype = ctypes.c_void_p
    egl.eglGetDisplay.argtypes = [ctypes.c_void_p]
    egl.eglInitialize.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    egl.eglTerminate.argtypes = [ctypes.c_void_p]
    displays: list[int | None] = []
    query_address = egl.eglGetProcAddress(b"eglQueryDevicesEXT")
    platform_address = egl.eglGetProcAddress(b"eglGetPlatformDisplayEXT")
    if query_address and platform_address:
        query = ctypes.CFUNCTYPE(
            ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_int)
        )(query_address)
        platform_display = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)(
            platform_address
        )
        devices = (ctypes.c_void_p * 8)()
        count = ctypes.c_int(0)
        if query(8, devices, ctypes.byref(count)):
            displays += [
                platform_display(EGL_PLATFORM_DEVICE_EXT, devices[i], None) for i in range(count.value)
            ]
    displays.append(egl.eglGetDisplay(None))
    for display in displays:
        if display and egl.eglInitialize(display, None, None):
            egl.eglTerminate(display)
            return True
    return False


def _osmesa_present() -> bool:
    return ctypes.util.find_library("OSMesa") is not None


def select_gl_backend() -> str | None:
    """Set ``MUJOCO_GL`` (and PyOpenGL's platform) for headless rendering unless already set;
    returns the backend, or None when neither EGL nor OSMesa is usable. Called before each import
    of MuJoCo in affordkit; only the first call can matter, since MuJoCo reads the variable once."""
    chosen = os.environ.get("MUJOCO_GL")
    if not chosen:
        if "mujoco" in sys.modules:
            return None  # too late to choose: MuJoCo already read the variable
        if _egl_works():
            chosen = "egl"
        elif _osmesa_present():
            chosen = "osmesa"
        else:
            return None
        os.environ["MUJOCO_GL"] = chosen
    if chosen in ("egl", "osmesa"):
        os.environ.setdefault("PYOPENGL_PLATFORM", chosen)
    return chosen


_LIVE: weakref.WeakSet[SceneRenderer] = weakref.WeakSet()
_EXIT_HOOK: list[bool] = []


def _close_all() -> None:
    for renderer in list(_LIVE):
        renderer.close()


def _close_at_exit(renderer: SceneRenderer) -> None:
    """Close ``renderer`` at interpreter exit if nothing closed it before. MuJoCo terminates its EGL
    display in an ``atexit`` hook registered when its first context is made; ``atexit`` runs hooks
    last-registered first, so a hook registered after that context runs while the display is still
    up. ``weakref.finalize``'s own exit hook may be older (any library that used it first) and then
    runs too late: every context left open printed an EGLError at exit."""
    _LIVE.add(renderer)
    if not _EXIT_HOOK:
        atexit.register(_close_all)
        _EXIT_HOOK.append(True)


@dataclass(frozen=True)
class CameraSpec:
    """A free camera aimed at ``lookat`` (metres) from ``distance`` at ``azimuth`` / ``elevation``
    (degrees; MuJoCo's convention: elevation -90 looks straight down)."""

    lookat: tuple[float, float, float]
    distance: float
    azimuth: float
    elevation: float
    fovy: float | None = None
    """Vertical field of view in degrees; None keeps the model's default (45)."""


class SceneRenderer:
    """Images (H, W, 3) uint8, right way up, of a model's data from a fixed camera.

    One GL context per renderer (about 90 MB); call :meth:`close` when done.
    """

    def __init__(self, model: Any, size: int, camera: CameraSpec) -> None:
        from affordkit.envs.arm.backends import require

        mujoco = require("mujoco")

        model.vis.quality.shadowsize = 0
        model.vis.quality.offsamples = 0
        if camera.fovy is not None:
            model.vis.global_.fovy = camera.fovy
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), size)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), size)
        try:
            self._renderer = mujoco.Renderer(model, size, size)
        except Exception as e:  # no usable GL: name the backend and the packages
            raise MissingDependencyError(
                f"MuJoCo could not open a headless GL context (MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: "
                f"{type(e).__name__}: {e}); install the Debian packages {GL_PACKAGES} "
                "(`bash scripts/setup.sh sim` does) or set MUJOCO_GL=egl or osmesa before importing "
                "affordkit"
            ) from e
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        self._camera.lookat[:] = camera.lookat
        self._camera.distance = camera.distance
        self._camera.azimuth = camera.azimuth
        self._camera.elevation = camera.elevation
        self._option = mujoco.MjvOption()
        self._option.sitegroup[:] = 0  # goal markers and effector sites are not part of the scene
        self.size = size
        # freed on close(), on garbage collection, or at exit while the GL display is still up
        self._close = weakref.finalize(self, self._renderer.close)
        _close_at_exit(self)

    def render(self, data: Any) -> np.ndarray:
        """The image (H, W, 3) uint8 of ``data`` (kinematics must be current: call mj_forward)."""
        self._renderer.update_scene(data, camera=self._camera, scene_option=self._option)
        return self._renderer.render()

    def close(self) -> None:
        self._close()
