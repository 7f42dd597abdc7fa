"""Guidance: what tells a NeRF how it should look (studio ground truth or Stable Diffusion)."""
