"""One CSS font stack for every HTML page tiaocan writes (reports, the web app).

Chinese text needs a CJK face named explicitly: with only generic `sans-serif`, a machine whose default fonts
lack CJK glyphs (Debian with no fonts-noto-cjk configured as default, many containers) shows empty boxes.
The stack lists the common CJK faces of each platform after the Latin ones, so Latin text keeps its system font.
"""
CJK_FONTS = ('"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Hiragino Sans GB", '
             '"Microsoft YaHei", "WenQuanYi Micro Hei", "Droid Sans Fallback"')
FONT_STACK = f'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, {CJK_FONTS}, sans-serif'
MONO_STACK = f'ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", {CJK_FONTS}, monospace'
