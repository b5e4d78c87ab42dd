"""data.prepared: the one reader of prepare.json, for one root or several."""

from __future__ import annotations

import json

import pytest

from adiencekit.crops import CropSpec
from adiencekit.data.prepared import PREPARE_FILE, prepared_record
from adiencekit.errors import ConfigError


def test_prepared_record_of_several_roots_needs_one_crop(tmp_path):
    crop = CropSpec(size=112, margin=0.1).to_dict()
    roots = [tmp_path / name for name in ("a", "b", "c")]
    for root, record in zip(roots, [{"crop": crop, "pad": 0.2}, {"crop": crop, "pad": 0.2}, None]):
        (root / "images").mkdir(parents=True)
        if record is not None:
            (root / PREPARE_FILE).write_text(json.dumps(record))
    assert prepared_record(f"utkface:{roots[0]},{roots[1]}")["crop"] == crop
    assert prepared_record(f"utkface:{roots[2]}") is None
    assert prepared_record("synthetic") is None
    with pytest.raises(ConfigError, match="cut differently.*not prepared"):
        prepared_record(f"utkface:{roots[0]},{roots[2]}")
    (roots[1] / PREPARE_FILE).write_text(json.dumps({"crop": {**crop, "margin": 0.3}, "pad": 0.2}))
    with pytest.raises(ConfigError, match="cut differently"):
        prepared_record(f"utkface:{roots[0]},{roots[1]}")
