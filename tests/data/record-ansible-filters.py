#!/usr/bin/env python3
"""Records what Ansible renders for each case of ansible-filters.json (the `expected` field).

Run once, by hand, with ansible-core installed (not needed by the tests):
    python3 -m venv /tmp/ansible-venv
    /tmp/ansible-venv/bin/pip install ansible-core passlib
    /tmp/ansible-venv/bin/python tests/data/record-ansible-filters.py
The cases' `template` and `vars` are the input; this script rewrites `expected`.
"""
import json
import pathlib

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

path = pathlib.Path(__file__).with_name("ansible-filters.json")
cases = json.loads(path.read_text())
for case in cases:
    if "source" in case:  # not an ansible-core filter: written from its documentation
        continue
    templar = Templar(loader=DataLoader(), variables=case.get("vars", {}))
    out = templar.template(trust_as_template(case["template"]))
    case["expected"] = out if isinstance(out, str) else str(out)
path.write_text(json.dumps(cases, indent=2, ensure_ascii=False) + "\n")
