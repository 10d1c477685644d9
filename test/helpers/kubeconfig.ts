// A kubeconfig whose only context, "dead", points at https://127.0.0.1:1, where nothing listens:
// the CLI must call that cluster unreachable and change nothing.
import { writeFileSync } from 'node:fs';

export const UNREACHABLE_CONTEXT = 'dead';

export function writeUnreachableKubeconfig(path: string): string {
  writeFileSync(
    path,
    `apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: not-a-real-token}}]
contexts: [{name: dead, context: {cluster: dead, user: u}}]
current-context: dead
`,
  );
  return path;
}
