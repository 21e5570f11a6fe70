// The conformance suite (conformance/cases.js, the cases of tests/src/cases.rs) against the
// partitioner component through jco: every case with both sector sizes, on a memory device and
// on a file device over a temporary file, each with a fresh instance and disk.

import { describe, test } from 'node:test';

import { CASES } from '../conformance/cases.js';
import { BACKENDS, Fixture, SECTOR_SIZES } from '../conformance/fixture.js';

for (const backend of Object.values(BACKENDS)) {
  describe(`conformance on a ${backend.name}`, () => {
    for (const sectorSize of SECTOR_SIZES) {
      describe(`${sectorSize}-byte sectors`, () => {
        for (const { name, readOnly, run } of CASES) {
          test(name, async () => {
            const f = await Fixture.create(backend, sectorSize, { readOnly });
            let passed = false;
            try {
              run(f);
              passed = true;
            } finally {
              f.close({ passed });
            }
          });
        }
      });
    }
  });
}
