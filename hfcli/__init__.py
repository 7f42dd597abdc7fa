"""hfcli: text to Neural Radiance Fields and glTF meshes with a dynamic hypernetwork."""

__version__ = "0.1.0"
