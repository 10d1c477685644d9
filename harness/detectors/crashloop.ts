// Generic restart-loop detector: a container that keeps restarting, measured by its restarts and how recent the
// last one is (not only CrashLoopBackOff: a container its liveness probe kills every minute is Running between
// kills), with what kills it: the liveness probe (its target against the ports the container declares, and what
// the probe's error says), the memory limit, a startup probe shorter than the start, or its own exit. Specific
// detectors that explain the same pod take precedence; see dedupe.ts.
import { resourceId, type Detector, type Finding } from './types.js';
import { collectWorkloads, type ContainerSpecInfo, type ContainerStatusInfo, type EventInfo, type PodInfo, type ProbeInfo, type WorkloadSnapshot } from './snapshot.js';
import { containerPath, crashingContainers, describeCrash, eventsFor, restartRate } from './pod-health.js';

const EVENT_PATTERNS = [/^Back-off restarting/i, /probe failed/i, /failed (liveness|startup) probe/i];

interface Killer {
  cause: string;
  change: string;
}

function declares(spec: ContainerSpecInfo, port: number | string): boolean {
  return (spec.ports ?? []).some((p) => p.port === port || p.name === port);
}

function portsText(spec: ContainerSpecInfo): string {
  return spec.ports?.length ? spec.ports.map((p) => `${p.port}${p.name ? `/${p.name}` : ''}`).join(', ') : 'no ports';
}

/** What the kubelet's probe error says, in a few words. */
function probeSays(message: string): string {
  if (/connection refused/.test(message)) return 'nothing listens there (connection refused)';
  if (/deadline exceeded|timeout|Client\.Timeout/i.test(message)) return 'no answer within its timeout';
  const code = /statuscode: (\d+)|HTTP probe failed with statuscode: (\d+)/i.exec(message);
  if (code) return `it answers HTTP ${code[1] ?? code[2]}`;
  return message.replace(/^(Liveness|Startup) probe failed:\s*/i, '').slice(0, 200);
}

function probeTarget(p: ProbeInfo): string {
  return `${p.kind}${p.port !== undefined ? ` port ${p.port}` : ''}${p.path ? ` ${p.path}` : ''}`;
}

export function killerOf(pod: PodInfo, s: ContainerStatusInfo, events: EventInfo[]): Killer {
  const spec = pod.containers.find((c) => c.name === s.name);
  const path = spec ? containerPath(pod, spec.name) : `container ${s.name}`;
  const mine = events.filter((e) => e.message.includes(s.name) || !/container/i.test(e.message));
  if (s.lastTerminated?.reason === 'OOMKilled') {
    const m = spec?.memory;
    return {
      cause: `it is killed for using more memory than its limit (OOMKilled; limit ${m?.limit ?? 'none'}, request ${m?.request ?? 'none'})`,
      change: `${path}.resources.limits.memory${m?.limit ? ` (now ${m.limit})` : ''}: raise it to what the process needs, or make it use less`,
    };
  }
  const startupFailed = mine.find((e) => /^Startup probe failed/i.test(e.message));
  const startupKill = mine.some((e) => /failed startup probe/i.test(e.message));
  if (spec?.startup && (startupKill || startupFailed)) {
    const p = spec.startup;
    const budget = p.initialDelaySeconds + p.failureThreshold * p.periodSeconds;
    return {
      cause: `its startup probe (${probeTarget(p)}) gives it ${budget} s to start (failureThreshold ${p.failureThreshold} x period ${p.periodSeconds} s), and it is killed before it is up${startupFailed ? `: ${probeSays(startupFailed.message)}` : ''}`,
      change: `${path}.startupProbe.failureThreshold (now ${p.failureThreshold}): raise it so failureThreshold x periodSeconds covers the start`,
    };
  }
  const liveFailed = [...mine].reverse().find((e) => /^Liveness probe failed/i.test(e.message));
  const liveKill = mine.some((e) => /failed liveness probe/i.test(e.message));
  if (spec?.liveness && (liveKill || liveFailed)) {
    const p = spec.liveness;
    const says = liveFailed ? probeSays(liveFailed.message) : 'it fails';
    if (p.port !== undefined && p.kind !== 'exec' && !declares(spec, p.port)) {
      return {
        cause: `its liveness probe (${probeTarget(p)}) targets port ${p.port}, which the container does not declare (it declares ${portsText(spec)}), and ${says}: the kubelet kills a container that may be healthy`,
        change: `${path}.livenessProbe.${p.kind}.port (now ${p.port}): point it at the port the container serves on${spec.ports?.length ? ` (${portsText(spec)})` : ''}`,
      };
    }
    if (/timeout/.test(says)) {
      return {
        cause: `its liveness probe (${probeTarget(p)}) gets ${says} (timeoutSeconds ${p.timeoutSeconds}) and the kubelet kills it`,
        change: `${path}.livenessProbe.timeoutSeconds (now ${p.timeoutSeconds}) or the endpoint's speed: the probe must answer within its timeout`,
      };
    }
    return {
      cause: `its liveness probe (${probeTarget(p)}) fails (${says}) and the kubelet kills it`,
      change: `${path}.livenessProbe: make it check what the container really serves, or fix what it checks`,
    };
  }
  const code = s.lastTerminated?.exitCode;
  return {
    cause: code !== undefined ? `it exits with code ${code}${s.lastTerminated?.reason ? ` (${s.lastTerminated.reason})` : ''}${s.lastLog?.length ? `; its last line: "${s.lastLog[s.lastLog.length - 1]}"` : ''}` : 'it keeps exiting',
    change: `what ${path} (${s.name}) needs to start: its last log lines say what it could not do`,
  };
}

export function analyzeCrashloops(snapshot: WorkloadSnapshot): Finding[] {
  const findings: Finding[] = [];
  for (const pod of snapshot.pods) {
    const crashing = crashingContainers(pod, snapshot.takenAt);
    if (crashing.length === 0) continue;
    const ns = pod.namespace;
    const events = eventsFor(snapshot, ns, 'Pod', pod.name).filter((e) => EVENT_PATTERNS.some((re) => re.test(e.message)));
    const first = crashing[0]!;
    const killer = killerOf(pod, first, events);
    const rate = restartRate(pod, first, snapshot.takenAt);
    findings.push({
      detector: 'crashloop',
      severity: 'warning',
      summary: `Pod ${ns}/${pod.name} keeps restarting: ${crashing.map((c) => `${c.name} ${describeCrash(c)}`).join('; ')}${rate !== undefined ? ` (${rate.toFixed(1)} restarts/min since it started)` : ''}`,
      rootCause: `container ${first.name}: ${killer.cause}; to change: ${killer.change}`,
      evidence: [
        ...crashing.map((c) => `container ${c.name}: ${describeCrash(c)}`),
        ...events.map((e) => `${e.reason} x${e.count}: ${e.message}`),
        ...crashing.flatMap((c) => (c.lastLog ?? []).map((l) => `${c.name} last log: ${l}`)),
      ],
      runbook: 'crashloop',
      resources: [resourceId(ns, 'Pod', pod.name), ...(pod.owner ? [resourceId(ns, pod.owner.kind, pod.owner.name)] : [])],
    });
  }
  return findings;
}

export const crashloopDetector: Detector<WorkloadSnapshot> = {
  id: 'crashloop',
  description: 'containers that keep restarting (back-off or recent repeated restarts), with what kills them: liveness or startup probe, memory limit, or their own exit',
  generic: true,
  collect: collectWorkloads,
  analyze: analyzeCrashloops,
};
