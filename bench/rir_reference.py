#!/usr/bin/env python3
"""The reference for bench/rir.sh: the same RIR files read with Python's
ipaddress (summarize each IPv4 range, collapse per country), written as
OUTDIR/v4/cc.zone and OUTDIR/v6/cc.zone in the same sorted CIDR form.

    rir_reference.py COUNTRIES OUTDIR FILE...

COUNTRIES: a file with the ISO 3166-1 codes to keep (others, such as EU,
AP, ZZ or withdrawn codes, are skipped as geoblock skips them).
"""
import ipaddress
import sys
from collections import defaultdict


def main():
    with open(sys.argv[1], encoding="ascii") as f:
        iso = set(f.read().split())
    out = sys.argv[2]
    v4 = defaultdict(list)
    v6 = defaultdict(list)
    for path in sys.argv[3:]:
        with open(path, encoding="ascii") as f:
            header = True
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#"):
                    continue
                fields = line.split("|")
                if header:
                    header = False
                    continue
                if len(fields) == 6 and fields[5] == "summary":
                    continue
                _, cc, kind, start, value, _, status = fields[:7]
                if status not in ("allocated", "assigned") or kind not in ("ipv4", "ipv6"):
                    continue
                if cc.lower() not in iso:
                    continue
                if kind == "ipv4":
                    first = ipaddress.IPv4Address(start)
                    last = first + int(value) - 1
                    v4[cc.lower()].extend(ipaddress.summarize_address_range(first, last))
                else:
                    v6[cc.lower()].append(ipaddress.IPv6Network(f"{start}/{value}"))
    for family, table in (("v4", v4), ("v6", v6)):
        for cc, nets in table.items():
            with open(f"{out}/{family}/{cc}.zone", "w", encoding="ascii") as f:
                for n in ipaddress.collapse_addresses(nets):
                    f.write(f"{n}\n")


if __name__ == "__main__":
    main()
