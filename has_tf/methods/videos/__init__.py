"""The video methods (`--method` on video-feature datasets), one module
each.

- `cam`: the plain T-CAM action network;
- `has`: Hide-and-Seek's frame segments (Singh & Lee, ICCV 2017);
- `cola`, `aicl`, `delu`: CoLA's, AICL's and DELU's own networks and
  objectives, with which Hide-and-Seek's hiding composes
  (`own_network`).
"""
