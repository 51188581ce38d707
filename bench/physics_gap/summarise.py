"""Summarise bench/physics_gap/run.sh: per model (trained on kinematic or multislice data), accuracy on the
multislice test split overall, by crystal system, by Laue class, and how many errors stay in the Laue class."""
import csv
import json
import sys

work, groups_text, commit = sys.argv[1:4]
groups = [int(g) for g in groups_text.split(",")]
laue_names = ["-1", "2/m", "mmm", "4/mmm", "6/mmm", "m-3m"]
laue = {g: laue_names[i // 2] for i, g in enumerate(groups)}  # pairs (centrosymmetric, non-centrosymmetric)
centro = {g: i % 2 == 0 for i, g in enumerate(groups)}


def crystal_system(g):
    for last, name in ((2, "triclinic"), (15, "monoclinic"), (74, "orthorhombic"), (142, "tetragonal"),
                       (167, "trigonal"), (194, "hexagonal"), (230, "cubic")):
        if g <= last:
            return name
    raise ValueError(g)


def share(hits, total):
    return round(hits / total, 4) if total else None


result = {"commit": commit, "test_split": "material-disjoint test split of each simulation", "space_groups": groups,
          "models": {}}
for physics, tested in (("kinematic", "multislice"), ("multislice", "multislice"), ("kinematic", "kinematic")):
    rows = list(csv.DictReader(open(f"{work}/run-{physics}/predictions-on-{tested}.csv")))
    pairs = [(int(r["true_space_group"]), int(r["predicted_space_group"])) for r in rows]
    n = len(pairs)
    errors = [(t, p) for t, p in pairs if t != p]
    model = {
        "samples": n,
        "top1": share(sum(t == p for t, p in pairs), n),
        "crystal_system": share(sum(crystal_system(t) == crystal_system(p) for t, p in pairs), n),
        "laue_class": share(sum(laue[t] == laue.get(p) for t, p in pairs), n),
        "errors": len(errors),
        "errors_within_laue_class": share(sum(laue[t] == laue.get(p) for t, p in errors), len(errors)),
        "top1_centrosymmetric": share(sum(t == p for t, p in pairs if centro[t]), sum(centro[t] for t, _ in pairs)),
        "top1_non_centrosymmetric": share(sum(t == p for t, p in pairs if not centro[t]),
                                          sum(not centro[t] for t, _ in pairs)),
        "top1_by_laue_class": {name: share(sum(t == p for t, p in pairs if laue[t] == name),
                                           sum(laue[t] == name for t, _ in pairs)) for name in laue_names},
    }
    result["models"][f"trained_on_{physics}_tested_on_{tested}"] = model
print(json.dumps(result, indent=1))
