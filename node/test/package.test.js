// The package as a user gets it: `npm pack` makes a tarball, installed into an empty project
// with no Rust toolchain on PATH it runs the example of the package's own README (node/README.md,
// "## Usage"), and the example prints what its comments say it prints.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const PACKAGE = fileURLToPath(new URL('..', import.meta.url));

/** Time for each npm or node command; npm needs no network here (the package has no dependencies). */
const COMMAND_TIMEOUT_MS = 60_000;

/** The first js code block after `heading` in the markdown file at `file`. */
function example(file, heading) {
  const markdown = fs.readFileSync(file, 'utf8');
  const start = markdown.indexOf(`\n${heading}\n`);
  assert.notEqual(start, -1, `${file} has no "${heading}"`);
  const block = markdown.slice(start).match(/\n```js\n([\s\S]*?)\n```/);
  assert.ok(block, `${file} has no js example after "${heading}"`);
  return `${block[1]}\n`;
}

/** What an example says it prints: the comment closing each `console.log` line, in order. */
function promisedOutput(code) {
  return code
    .split('\n')
    .filter((line) => line.trimStart().startsWith('console.log('))
    .map((line) => {
      const comment = line.lastIndexOf(' // ');
      assert.notEqual(comment, -1, `no comment says what this prints: ${line}`);
      return `${line.slice(comment + 4)}\n`;
    })
    .join('');
}

/** PATH without the directories that hold cargo or rustc, but never npm's or node's. */
function pathWithoutRust() {
  const holds = (dir, name) => fs.existsSync(path.join(dir, name));
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => holds(dir, 'npm') || holds(dir, 'node') || !(holds(dir, 'cargo') || holds(dir, 'rustc')))
    .join(path.delimiter);
}

/** Runs `command` to completion, failing the test with its output if it fails. */
function run(command, args, options) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: COMMAND_TIMEOUT_MS, ...options });
  const what = `${command} ${args.join(' ')}`;
  assert.ifError(result.error);
  assert.equal(result.status, 0, `${what} failed:\n${result.stdout}${result.stderr}`);
  return result;
}

test('npm pack makes a package that installs without Rust and runs the README example', { timeout: 4 * COMMAND_TIMEOUT_MS }, () => {
  const code = example(path.join(PACKAGE, 'README.md'), '## Usage');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blockpart-node-pack-'));
  try {
    // `npm test` has just built gen/ (pretest); a real `npm pack` rebuilds it (prepack), which
    // here would rewrite gen/ under the other test files as they load it.
    const pack = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: PACKAGE });
    const [{ filename, files }] = JSON.parse(pack.stdout);
    const packed = new Set(files.map((file) => file.path));

    // jco's module, and every core module it asks its loader for.
    const generated = fs.readFileSync(path.join(PACKAGE, 'gen/partitioner.js'), 'utf8');
    const coreModules = [...generated.matchAll(/getCoreModule\('([^']+)'\)/g)].map((match) => `gen/${match[1]}`);
    assert.ok(coreModules.length > 0, 'gen/partitioner.js loads no core module by name');
    for (const file of ['package.json', 'README.md', 'driver.js', 'src/index.js', 'src/index.d.ts', 'src/partition.js', 'src/devices.js', 'src/file-device.js', 'src/boundary.js', 'src/integers.js', 'src/sector-size.js', 'gen/partitioner.js', 'gen/partitioner.d.ts', ...coreModules]) {
      assert.ok(packed.has(file), `the tarball lacks ${file}`);
    }
    for (const file of packed) {
      assert.ok(!file.startsWith('test/') && !file.startsWith('scripts/') && file !== 'partitioner.wasm', `the tarball has ${file}`);
    }

    const project = path.join(dir, 'project');
    fs.mkdirSync(project);
    const env = { ...process.env, PATH: pathWithoutRust() };
    for (const name of Object.keys(env)) {
      // What the `npm test` this runs under says about its own package and directory (its
      // local prefix would send the install there); the user's npm settings stay.
      if (/^(npm_package_|npm_lifecycle_|npm_command$|npm_config_local_prefix$|INIT_CWD$)/.test(name)) delete env[name];
    }
    run('npm', ['init', '-y'], { cwd: project, env });
    run('npm', ['install', '--no-audit', '--no-fund', path.join(dir, filename)], { cwd: project, env });
    assert.ok(!fs.existsSync(path.join(project, 'node_modules/@bytecodealliance')), 'jco was installed with the package');

    fs.writeFileSync(path.join(project, 'example.mjs'), code);
    const promised = promisedOutput(code);
    assert.notEqual(promised, '', 'the example says it prints nothing');
    const output = run(process.execPath, ['example.mjs'], { cwd: project, env });
    assert.equal(output.stderr, '');
    assert.equal(output.stdout, promised);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
