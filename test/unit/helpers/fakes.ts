// FAKES for unit tests only: an in-memory provider, fault, detector, runbook and deployer. They touch no
// cluster and no process; nothing that uses them is end-to-end.
import { z } from 'zod';
import type { KubeClients } from '../../../harness/cluster/kube.js';
import type { Capabilities, ClusterRef, CreateSpec, Provider } from '../../../harness/cluster/types.js';
import type { Detector, Finding } from '../../../harness/detectors/types.js';
import type { Deployer } from '../../../harness/engine/deploy.js';
import type { Registries } from '../../../harness/engine/registries.js';
import { DEFAULT_DEADLINES, type LoadedScenario } from '../../../harness/engine/scenario.js';
import type { Fault } from '../../../harness/faults/types.js';
import type { IntegrityCheck } from '../../../harness/integrity/types.js';
import type { Runbook } from '../../../harness/runbooks/types.js';

/** The fake "cluster" all fakes share. */
export interface FakeWorld {
  applied: boolean;
  remediated: boolean;
  /** detector polls since the fault was applied */
  pollsSinceApply: number;
  /** the fake detector fires after this many polls (Infinity: never) */
  firesAfterPolls: number;
  /** when true the fake detector also fires before injection (an unhealthy steady state) */
  noisyBeforeInject: boolean;
  calls: string[];
  markers: Set<string>;
  /** called on each fake detector poll after apply (lets a test abort mid-stage) */
  onPoll?(n: number): void;
  failApply?: boolean;
  /** apply takes this long and ignores its signal, like a slow API call (ms) */
  applyDelayMs?: number;
}

export function fakeWorld(overrides: Partial<FakeWorld> = {}): FakeWorld {
  return {
    applied: false,
    remediated: false,
    pollsSinceApply: 0,
    firesAfterPolls: 2,
    noisyBeforeInject: false,
    calls: [],
    markers: new Set(),
    ...overrides,
  };
}

export class FakeProvider implements Provider {
  readonly kind = 'kind' as const;
  created: string[] = [];
  deleted: string[] = [];
  constructor(
    private readonly w: FakeWorld,
    private readonly caps: Partial<Capabilities> = {},
  ) {}
  capabilities(): Capabilities {
    return { nodeExec: true, nodeExecWithoutApi: true, hostPid: true, kubeadm: true, create: true, ...this.caps };
  }
  async preflight() {
    return { ok: true };
  }
  async create(spec: CreateSpec): Promise<ClusterRef> {
    this.w.calls.push(`provider.create ${spec.name}`);
    this.created.push(spec.name);
    return { provider: 'kind', name: spec.name, context: `kind-${spec.name}`, kubeconfigPath: '/fake/kubeconfig', createdByFaultline: true, nodeImage: 'fake/node:v0' };
  }
  async delete(name: string) {
    this.w.calls.push(`provider.delete ${name}`);
    this.deleted.push(name);
  }
  async list() {
    return this.created.filter((c) => !this.deleted.includes(c));
  }
  async kubeconfig() {
    return '/fake/kubeconfig';
  }
  async nodes() {
    return [];
  }
  async exec() {
    return { stdout: '', stderr: '', exitCode: 0 };
  }
  async loadImages(_ref: ClusterRef, images: string[]) {
    this.w.calls.push(`provider.loadImages ${images.join(',')}`);
    return { loaded: images, skipped: [] };
  }
  async hostPid() {
    return undefined;
  }  async processes(): Promise<never> {
    throw new Error('FAKE provider: no node processes');
  }

}

export interface FakeRecord {
  token: string;
}

export function fakeFault(w: FakeWorld): Fault<{ target: string }, FakeRecord> {
  return {
    type: 'fake-fault',
    description: 'fake fault for unit tests',
    paramsSchema: z.object({ target: z.string() }),
    async plan(_ctx, p) {
      w.calls.push('fault.plan');
      return { token: `undo-${p.target}` };
    },
    async apply() {
      w.calls.push('fault.apply');
      if (w.applyDelayMs) {
        await new Promise((r) => setTimeout(r, w.applyDelayMs));
        w.calls.push('fault.apply done');
      }
      // a new fault: the world's detection and remediation start over (a second scenario on the same world)
      w.applied = true;
      w.remediated = false;
      w.pollsSinceApply = 0;
      if (w.failApply) throw new Error('fake apply failed half-way');
    },
    async revert(_ctx, r) {
      w.calls.push(`fault.revert ${r.token}`);
      w.applied = false;
    },
    describe(r) {
      return `fake undo ${r.token}`;
    },
  };
}

export function fakeDetector(w: FakeWorld): Detector<{ broken: boolean }> {
  return {
    id: 'fake-detector',
    description: 'fake detector for unit tests',
    async collect() {
      if (w.applied && !w.remediated) {
        w.pollsSinceApply++;
        w.onPoll?.(w.pollsSinceApply);
      }
      const broken = (w.applied && !w.remediated && w.pollsSinceApply >= w.firesAfterPolls) || (w.noisyBeforeInject && !w.applied);
      return { broken };
    },
    analyze(s): Finding[] {
      if (!s.broken) return [];
      return [
        {
          detector: 'fake-detector',
          severity: 'critical',
          summary: 'fake thing broken',
          rootCause: 'the fake fault',
          evidence: ['fake evidence FAKE-SIGNATURE'],
          runbook: 'fake-runbook',
          resources: ['victim/Thing/one'],
        },
      ];
    },
  };
}

export function fakeRunbook(w: FakeWorld): Runbook {
  return {
    id: 'fake-runbook',
    title: 'fake runbook',
    verifyParams: z.object({ namespace: z.string() }),
    async diagnose(_ctx, f) {
      w.calls.push('runbook.diagnose');
      return { runbook: 'fake-runbook', summary: `fake diagnosis of ${f.summary}`, details: [], data: {} };
    },
    async remediate() {
      w.calls.push('runbook.remediate');
      w.remediated = true;
      return { mode: 'automatic', actions: ['fake fix'] };
    },
    async verify() {
      return { ok: w.remediated, details: [w.remediated ? 'fake ok' : 'fake still broken'] };
    },
    markdown: () => '# fake',
  };
}

export function fakeIntegrity(w: FakeWorld): IntegrityCheck<Record<string, unknown>> {
  return {
    id: 'fake-marker',
    description: 'fake marker',
    paramsSchema: z.record(z.string(), z.unknown()),
    async write(ctx) {
      w.markers.add(ctx.runId);
      return { check: 'fake-marker', phase: 'write', ok: true, details: 'fake written' };
    },
    async check(ctx) {
      const ok = w.markers.has(ctx.runId);
      return { check: 'fake-marker', phase: 'check', ok, details: ok ? 'fake found' : 'fake missing' };
    },
  };
}

export class FakeDeployer implements Deployer {
  removed: string[] = [];
  constructor(private readonly w: FakeWorld) {}
  async deploy() {
    this.w.calls.push('deployer.deploy');
    return { createdNamespace: true, message: 'fake deployed' };
  }
  async removeNamespace(_ctx: unknown, ns: string) {
    this.w.calls.push(`deployer.removeNamespace ${ns}`);
    this.removed.push(ns);
    return `fake removed ${ns}`;
  }
}

/** FAKE victim-namespace change: records create and delete instead of calling an API. */
export function fakeVictimNamespace(w: FakeWorld): Fault<{ namespace: string }, { namespace: string }> {
  return {
    type: 'victim-namespace',
    description: 'fake namespace',
    paramsSchema: z.object({ namespace: z.string() }),
    async plan(_ctx, p) {
      return { namespace: p.namespace };
    },
    async apply(_ctx, p) {
      w.calls.push(`namespace.create ${p.namespace}`);
    },
    async revert(_ctx, r) {
      w.calls.push(`namespace.delete ${r.namespace}`);
    },
    describe: (r) => `fake namespace ${r.namespace} deleted`,
  };
}

export function fakeRegistries(w: FakeWorld): Registries {
  return {
    faults: new Map<string, Fault<any, any>>([
      ['fake-fault', fakeFault(w)],
      ['victim-namespace', fakeVictimNamespace(w)],
    ]),
    detectors: new Map([['fake-detector', fakeDetector(w)]]),
    runbooks: new Map([['fake-runbook', fakeRunbook(w)]]),
    integrity: new Map([['fake-marker', fakeIntegrity(w)]]),
  };
}

/** A scenario object as the loader would return it, with short deadlines for fast tests. */
export function fakeScenario(overrides: Partial<LoadedScenario> = {}): LoadedScenario {
  return {
    id: 'fake-scenario',
    title: 'fake scenario',
    incident: { title: 'fake incident', site: 'fake', date: 'undated', relation: 'replays', summary: 'fake incident' },
    cluster: { needs: [] },
    isolation: 'cluster',
    victim: { namespace: 'victim', manifests: [], ready: [], readyTimeoutSeconds: 1, preloadImages: false, setup: [], fixtures: [] },
    fault: { type: 'fake-fault', params: { target: 'x' } },
    detect: { expect: ['fake-detector'], evidence: [], findings: 1, deadlineSeconds: 1 },
    runbook: { id: 'fake-runbook', params: {} },
    recovery: 'runbook',
    integrity: [{ check: 'fake-marker', params: {} }],
    deadlines: {},
    standardAlert: { name: 'FakeAlert', waitSeconds: 900 },
    dir: '/fake',
    file: '/fake/scenario.yaml',
    manifestPaths: [],
    stageDeadlines: { ...DEFAULT_DEADLINES, steadyState: 1, detect: 1, verify: 1, deploy: 1, provision: 1, revert: 1, teardown: 1 },
    ...overrides,
  };
}

/** No API is ever called through this in engine tests: the fakes ignore ctx.kube. */
export const FAKE_KUBE = { fake: true } as unknown as KubeClients;
