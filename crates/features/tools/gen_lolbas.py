#!/usr/bin/env python3
"""Regenerate data/lolbas_paths.tsv from the LOLBAS YAML files.

Usage: python3 tools/gen_lolbas.py ../../../shared/datasets/reference/lolbas/yml > data/lolbas_paths.tsv

One line per (binary name, legitimate directory), both lower-case, the drive letter dropped
(`\\windows\\system32`). Only executables (.exe) count: libraries and scripts are not process
images. Directory segments that carry a version number are written as `*` so that a later
.NET or Defender platform version still counts as legitimate.
"""
import os, re, sys

root = sys.argv[1]
rows = set()
for dirpath, _, files in os.walk(root):
    for f in files:
        if not f.endswith(".yml"):
            continue
        in_paths = False
        for line in open(os.path.join(dirpath, f), encoding="utf-8", errors="replace"):
            if line.startswith("Full_Path:"):
                in_paths = True
                continue
            if in_paths and not line.startswith(" "):
                in_paths = False
            m = re.match(r"\s*-\s*Path:\s*(.+?)\s*$", line) if in_paths else None
            if not m:
                continue
            p = m.group(1).strip().strip("'\"").lower().replace("/", "\\")
            if not re.match(r"^[a-z]:\\", p) or not p.endswith(".exe"):
                continue
            d, _, name = p[2:].rpartition("\\")
            segs = ["*" if (re.search(r"\d", s) or "<" in s) and s not in ("system32", "framework64", "office16", "office14", "office15") and not s.startswith("syswow") else s for s in d.split("\\")]
            rows.add((name, "\\".join(segs)))
# Core Windows processes that malware imitates most, absent from LOLBAS (not proxies).
for name in ["svchost.exe", "lsass.exe", "services.exe", "csrss.exe", "winlogon.exe", "smss.exe",
             "wininit.exe", "taskhostw.exe", "spoolsv.exe", "conhost.exe", "dllhost.exe",
             "lsm.exe", "searchindexer.exe", "taskmgr.exe", "userinit.exe", "sihost.exe",
             "ctfmon.exe", "werfault.exe", "wuauclt.exe", "consent.exe", "logonui.exe"]:
    rows.add((name, "\\windows\\system32"))
    if name not in ("lsass.exe", "services.exe", "csrss.exe", "winlogon.exe", "smss.exe", "wininit.exe", "lsm.exe", "logonui.exe"):
        rows.add((name, "\\windows\\syswow64"))
for name, d in sorted(rows):
    print(f"{name}\t{d}")
