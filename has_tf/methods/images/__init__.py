"""The image methods (`--method` on image datasets), one module each.

- `cam`: the plain CAM classifier (Zhou et al., CVPR 2016);
- `has`: Hide-and-Seek (Singh & Lee, ICCV 2017), the project's method;
- `cutmix`, `adl`, `acol`: the rivals as wsolevaluation runs them;
- `tscam`: TS-CAM on a DeiT (Gao et al., ICCV 2021), `scm`, SCM on
  TS-CAM's network (Bai et al., ECCV 2022), and `sat`, SAT's spatial
  token (Wu et al., ICCV 2023); Hide-and-Seek's hiding composes with
  each.
"""
