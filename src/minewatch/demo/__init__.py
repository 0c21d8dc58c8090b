"""Synthetic demo scene: a deterministic Sentinel-2 L2A series of a growing mine, with truth.

Use :func:`generate_scene`; see docs/demo-scene.md.
"""

from minewatch.demo.scene import DemoScene, generate_scene

__all__ = ["DemoScene", "generate_scene"]
