#!/usr/bin/python3
"""PIL reference for gomlx_vgg's load_img: writes test images in several modes
and what keras.utils.load_img would return for them (PIL convert("RGB") then
Image.resize with each filter), as raw RGB bytes plus manifest.json."""
import json
import os
import sys

import numpy as np
from PIL import Image

FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC,
           "lanczos": Image.LANCZOS, "box": Image.BOX, "hamming": Image.HAMMING}


def main(photo, out):
    os.makedirs(out, exist_ok=True)
    base = Image.open(photo).convert("RGB")
    sources = {"rgb.png": base}
    sources["gray.png"] = base.convert("L")
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    sources["rgba.png"] = rgba
    sources["palette.png"] = base.convert("P", palette=Image.ADAPTIVE, colors=64)
    sources["photo.jpg"] = base
    sources["photo.gif"] = base.convert("P", palette=Image.ADAPTIVE, colors=32)
    # 16-bit grey, values 0..1020 (PIL opens it in mode "I": some within 0..255, most above).
    sources["gray16.png"] = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 4)
    cases = []
    for name, im in sources.items():
        path = os.path.join(out, name)
        if name.endswith(".jpg"):
            im.save(path, quality=90)
        else:
            im.save(path)
        loaded = Image.open(path)
        if loaded.mode != "RGB":
            loaded = loaded.convert("RGB")
        sizes = [None, (224, 224), (200, 300), (37, 611)] if name == "rgb.png" else [None, (224, 224)]
        for size in sizes:
            for fname, f in FILTERS.items():
                if size is None and fname != "nearest":
                    continue
                img = loaded if size is None else loaded.resize((size[1], size[0]), f)
                raw = "%s_%s_%s.rgb" % (name, "orig" if size is None else "%dx%d" % size, fname)
                with open(os.path.join(out, raw), "wb") as fh:
                    fh.write(img.tobytes())
                cases.append({"image": name, "size": list(size) if size else None, "filter": fname,
                              "width": img.size[0], "height": img.size[1], "file": raw})
    with open(os.path.join(out, "manifest.json"), "w") as fh:
        json.dump(cases, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
