#!/usr/bin/env python3
"""Counts individual test cases in meson's JUnit log (each GoogleTest case and each TAP test is
one testcase) and prints "N passed, N failed". A suite that crashed before reporting its cases
counts as one failure. Each failed case is named on stderr with the start of its message, so a
CI log says which test failed and why."""
import sys
import xml.etree.ElementTree as ET


def report(suite, case, bad):
    name = f"{suite.get('name', '?')}: {case.get('classname', '')}.{case.get('name', '?')}"
    text = (bad.get("message") or "") + "\n" + (bad.text or "")
    lines = [l for l in text.strip().splitlines() if l.strip()][:40]
    print(f"FAILED {name}", file=sys.stderr)
    for line in lines:
        print(f"    {line}", file=sys.stderr)


def count(path):
    passed = failed = 0
    root = ET.parse(path).getroot()
    for suite in root.iter("testsuite"):
        cases = list(suite.iter("testcase"))
        for case in cases:
            if case.find("skipped") is not None:
                continue
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                failed += 1
                report(suite, case, bad)
            else:
                passed += 1
        if not cases and (int(suite.get("failures", 0)) or int(suite.get("errors", 0))):
            failed += 1
    return passed, failed


if __name__ == "__main__":
    total_p = total_f = 0
    for path in sys.argv[1:]:
        try:
            p, f = count(path)
        except (OSError, ET.ParseError) as e:
            print(f"count_tests: cannot read {path}: {e}", file=sys.stderr)
            p, f = 0, 1
        total_p += p
        total_f += f
    print(f"{total_p} passed, {total_f} failed")
