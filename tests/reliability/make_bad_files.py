"""Writes damaged copies of a valid SMC-2019 file and of a valid packed file, one damage per file.

usage: make_bad_files.py SMC_FILE PACKED_FILE OUTDIR
Each output is named after its damage; the first sample group of the SMC copy (in numeric order) is the victim.
"""
import os
import re
import shutil
import sys

import h5py
import numpy as np

smc, packed, out = sys.argv[1:4]
os.makedirs(out, exist_ok=True)


def first_group(f):
    names = [n for n in f if re.fullmatch(r"sample_\d+_\d+", n)]
    return sorted(names, key=lambda n: tuple(int(x) for x in n.split("_")[1:]))[0]


def smc_copy(name, damage):
    path = os.path.join(out, name + ".h5")
    shutil.copy(smc, path)
    with h5py.File(path, "r+") as f:
        g = f[first_group(f)]
        damage(f, g)
    return path


def replace_stack(g, data):
    del g["cbed_stack"]
    g.create_dataset("cbed_stack", data=data)


def with_pixel(value):
    def damage(f, g):
        s = g["cbed_stack"][...]
        s[1, 3, 4] = value
        replace_stack(g, s)
    return damage


def set_sg(value):
    def damage(f, g):
        del g.attrs["space_group"]
        g.attrs["space_group"] = value
    return damage


smc_copy("stack_rank2", lambda f, g: replace_stack(g, g["cbed_stack"][0]))
smc_copy("stack_2_channels", lambda f, g: replace_stack(g, g["cbed_stack"][:2]))
smc_copy("stack_not_square", lambda f, g: replace_stack(g, g["cbed_stack"][:, :, :-2]))
smc_copy("stack_other_size", lambda f, g: replace_stack(g, np.zeros((3, 16, 16), np.float32)))
smc_copy("stack_missing", lambda f, g: g.__delitem__("cbed_stack"))
smc_copy("stack_strings", lambda f, g: replace_stack(g, np.array([b"abc"] * 3)))
smc_copy("pixel_nan", with_pixel(np.nan))
smc_copy("pixel_inf", with_pixel(-np.inf))
smc_copy("sg_text", set_sg("abc"))
smc_copy("sg_zero", set_sg("0"))
smc_copy("sg_231", set_sg("231"))
smc_copy("sg_empty", set_sg(""))
smc_copy("sg_float", set_sg(np.float64(12.5)))
smc_copy("sg_missing", lambda f, g: g.attrs.__delitem__("space_group"))

with h5py.File(os.path.join(out, "no_samples.h5"), "w") as f:
    f.create_group("something_else")
    f["x"] = np.zeros(3)
with open(smc, "rb") as src, open(os.path.join(out, "truncated.h5"), "wb") as dst:
    data = src.read()
    dst.write(data[: len(data) // 3])
open(os.path.join(out, "empty.h5"), "wb").close()
with open(os.path.join(out, "text.h5"), "w") as f:
    f.write("space_group = 225\n")


def packed_copy(name, damage):
    path = os.path.join(out, name + ".h5")
    shutil.copy(packed, path)
    with h5py.File(path, "r+") as f:
        damage(f)
    return path


def set_label(f, value):
    labels = f["labels"][...]
    labels[0] = value
    del f["labels"]
    f["labels"] = labels


packed_copy("packed_label_0", lambda f: set_label(f, 0))
packed_copy("packed_label_300", lambda f: set_label(f, 300))
packed_copy("packed_no_labels", lambda f: f.__delitem__("labels"))
packed_copy("packed_short_labels", lambda f: (lambda l: (f.__delitem__("labels"), f.__setitem__("labels", l[:-1])))(f["labels"][...]))
packed_copy("packed_images_rank3", lambda f: (f.__delitem__("images"), f.__setitem__("images", np.zeros((4, 3, 8), np.float32))))
packed_copy("packed_bad_dtype_attr", lambda f: f.attrs.__setitem__("dtype", "float64"))
packed_copy("packed_material_id_out_of_range", lambda f: (lambda m: (m.__setitem__(0, 10**6), f.__delitem__("material_ids"), f.__setitem__("material_ids", m)))(f["material_ids"][...]))
print("bad files written to", out)
