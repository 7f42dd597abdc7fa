"""Guidance signals: what tells a NeRF how it should look (the studio's ground truth, Stable Diffusion, or teachers)."""
