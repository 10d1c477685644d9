// Small files on a node (containerd's hosts.toml), captured and restored byte for byte. The capture holds the
// bytes (base64) and their sha256, so only use it for files without secrets; whether the file and its folder
// existed is kept too, so a restore of a file that was absent removes what the change created.
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { redactText } from '../core/redact.js';
import { nodeSh, shQuote, type NodeAccess } from './node-access.js';

export interface NodeFileSnapshot {
  node: string;
  path: string;
  existed: boolean;
  /** whether the file's folder existed (when the file did not) */
  dirExisted: boolean;
  b64?: string;
  sha256?: string;
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The file's bytes, or undefined when it does not exist. */
export async function readNodeFile(na: NodeAccess, node: string, path: string): Promise<Buffer | undefined> {
  const res = await nodeSh(na, node, `if [ -e ${shQuote(path)} ]; then echo present; base64 -w0 ${shQuote(path)}; else echo absent; fi`);
  if (res.exitCode !== 0) throw new Error(`cannot read ${path} on ${node}: ${res.stderr.trim()}`);
  const [state, data = ''] = res.stdout.split('\n');
  return state === 'present' ? Buffer.from(data.trim(), 'base64') : undefined;
}

/** The file's bytes; a missing file is an error. */
export async function mustReadNodeFile(na: NodeAccess, node: string, path: string): Promise<Buffer> {
  const bytes = await readNodeFile(na, node, path);
  if (!bytes) throw new Error(`cannot read ${path} on ${node}: no such file`);
  return bytes;
}

export async function snapshotNodeFile(na: NodeAccess, node: string, path: string): Promise<NodeFileSnapshot> {
  const bytes = await readNodeFile(na, node, path);
  if (bytes) return { node, path, existed: true, dirExisted: true, b64: bytes.toString('base64'), sha256: sha256Hex(bytes) };
  const dir = await nodeSh(na, node, `[ -d ${shQuote(dirname(path))} ]`);
  return { node, path, existed: false, dirExisted: dir.exitCode === 0 };
}

/** Refuses to journal a file that holds a value the redactor takes for a secret (a token or password literal, a
 *  key): static pod manifests are journaled whole so revert can restore them byte for byte, which is safe only
 *  while they hold flags and file paths. A flag naming a key by its file path (--tls-private-key-file=/etc/...) is
 *  a path, not a value; so is a switch (--enable-bootstrap-token-auth=true). */
export function assertJournalable(bytes: Buffer, path: string, node: string): void {
  const suspect = bytes
    .toString('utf8')
    .split('\n')
    .filter((line) => redactText(line) !== line && !/[:=]\s*["']?(\/[^\s"']*|true|false)["']?\s*$/.test(line));
  if (suspect.length > 0) {
    throw new Error(`${path} on ${node} holds ${suspect.length} value(s) that look secret (line ${redactText(suspect[0]!.trim())}); faultline journals this file whole and will not write such a value into a journal`);
  }
}

/** Atomic write: a dot-file, then rename (a reader sees the old or the new file, never half), checked by sha256.
 *  tmpDir must be on the same filesystem; give one outside a folder whose every file is read (the kubelet's
 *  static pod manifests). */
export async function writeNodeFile(na: NodeAccess, node: string, path: string, bytes: Buffer, opts: { mode?: string; tmpDir?: string } = {}): Promise<void> {
  const tmp = `${opts.tmpDir ?? dirname(path)}/.faultline-${path.split('/').pop()}.tmp`;
  const res = await nodeSh(
    na,
    node,
    `mkdir -p ${shQuote(dirname(path))} && base64 -d > ${shQuote(tmp)} && chmod ${opts.mode ?? '644'} ${shQuote(tmp)} && mv ${shQuote(tmp)} ${shQuote(path)} && sha256sum ${shQuote(path)}`,
    20_000,
    bytes.toString('base64'),
  );
  if (res.exitCode !== 0) throw new Error(`cannot write ${path} on ${node}: ${res.stderr.trim()}`);
  const got = res.stdout.trim().split(/\s+/)[0];
  if (got !== sha256Hex(bytes)) throw new Error(`${path} on ${node}: sha256 ${got} after write, expected ${sha256Hex(bytes)}`);
}

/** Puts the file back as captured (or removes it, and the folder the change made); says what it did. */
export async function restoreNodeFile(na: NodeAccess, snap: NodeFileSnapshot, opts: { mode?: string; tmpDir?: string } = {}): Promise<string> {
  const current = await readNodeFile(na, snap.node, snap.path);
  if (snap.existed) {
    const original = Buffer.from(snap.b64 ?? '', 'base64');
    if (sha256Hex(original) !== snap.sha256) throw new Error(`journal record for ${snap.path} on ${snap.node} is corrupt (sha256 mismatch)`);
    if (current?.equals(original)) return `${snap.path} on ${snap.node} already as captured`;
    await writeNodeFile(na, snap.node, snap.path, original, opts);
    return `${snap.path} on ${snap.node} restored byte for byte (sha256 ${snap.sha256!.slice(0, 12)})`;
  }
  const rmDir = snap.dirExisted ? '' : ` && rmdir ${shQuote(dirname(snap.path))} 2>/dev/null; true`;
  const res = await nodeSh(na, snap.node, `rm -f ${shQuote(snap.path)}${rmDir}`);
  if (res.exitCode !== 0) throw new Error(`cannot remove ${snap.path} on ${snap.node}: ${res.stderr.trim()}`);
  return current ? `${snap.path} on ${snap.node} removed (it did not exist before)` : `${snap.path} on ${snap.node} already absent`;
}

/** Whether the node's file is as captured (absent when it was absent). */
export async function matchesSnapshot(na: NodeAccess, snap: NodeFileSnapshot): Promise<boolean> {
  const current = await readNodeFile(na, snap.node, snap.path);
  if (!snap.existed) return current === undefined;
  return !!current && sha256Hex(current) === snap.sha256;
}

/** The same file captured on every node of the cluster. */
export async function snapshotOnEveryNode(na: NodeAccess, path: string): Promise<NodeFileSnapshot[]> {
  const nodes = await na.provider.nodes(na.cluster);
  return Promise.all(nodes.map((n) => snapshotNodeFile(na, n.name, path)));
}

/** The root of every folder faultline makes on a node; nothing outside it is ever pruned. */
export const NODE_STATE_ROOT = '/var/lib/faultline';

/** Removes `dir` and each parent up to and including `root` while they are empty, so a node keeps no trace of
 *  faultline once its last backup is gone; a folder that still holds something stops the climb. */
export function pruneEmptyDirsScript(dir: string, root = NODE_STATE_ROOT): string {
  if (dir !== root && !dir.startsWith(`${root}/`)) throw new Error(`${dir} is not under ${root}`);
  const dirs: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    dirs.push(d);
    if (d === root) break;
  }
  return dirs.map((d) => `{ [ ! -d ${shQuote(d)} ] || rmdir ${shQuote(d)} 2>/dev/null; }`).join(' && ');
}
