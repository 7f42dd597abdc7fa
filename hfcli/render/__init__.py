"""Cameras, rays, occupancy grid, raymarching backends and compositing."""
