"""Estimate the linkage model once from generated census data with ground truth.

    .venv/bin/python bench/train_linkage_model.py [--people 6000] [--seed 20211101]

Writes gonghui/census/data/splink_model.json (m from the true labels, u from random pairs), then
applies the caps documented in docs/LINKAGE.md and prints each level's match weight. The import
never trains: it loads this file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gonghui.census.linkage import MODEL_PATH, cap_model, estimate_model  # noqa: E402
from gonghui.census.messy import generate_census, link_rows  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=20211101)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        truth = generate_census(people=args.people, seed=args.seed, out_dir=Path(tmp))
    rows = link_rows(truth)
    model = cap_model(
        estimate_model(rows, {i: r.true_person for i, r in enumerate(truth.rows)}, out_path=None)
    )
    MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
    import json
    import math

    MODEL_PATH.write_text(json.dumps(model, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        f"{len(rows)} rows of {args.people} people; lambda={model['probability_two_random_records_match']:.3g}"
    )
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            m, u = level.get("m_probability"), level.get("u_probability")
            weight = math.log2(m / u) if m and u else float("nan")
            name, label = comparison["output_column_name"], level["label_for_charts"]
            print(f"  {name:<12} {label:<45} m={m or 0:.4g} u={u or 0:.4g} w={weight:+.2f}")
    print(f"written {MODEL_PATH}")


if __name__ == "__main__":
    main()
