"""Warp and blend math for projectors on a dome: numpy only."""
