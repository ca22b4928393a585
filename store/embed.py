#!/usr/bin/env python3
"""Turns a text file into a C header holding it as one string constant.

usage: embed.py INPUT OUTPUT NAME

Used by meson to compile schema.sql into the binary, so that the file in
the repository stays the only definition of the database.
"""
import sys


def main():
    src, dst, name = sys.argv[1:4]
    with open(src, 'rb') as f:
        data = f.read()
    lines = [f'/* generated from {src.split("/")[-1]} by store/embed.py; do not edit */',
             f'static const char {name}[] =']
    for line in data.decode('utf-8').splitlines(keepends=True):
        esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
        lines.append(f'\t"{esc}"')
    lines[-1] += ';'
    with open(dst, 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
