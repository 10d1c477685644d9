import { ExistingProvider } from './existing.js';
import { K3dProvider } from './k3d.js';
import { KindProvider } from './kind.js';
import type { Provider, ProviderKind } from './types.js';

export const PROVIDER_KINDS: readonly ProviderKind[] = ['kind', 'k3d', 'existing'];

export function makeProvider(kind: ProviderKind, log?: (msg: string) => void): Provider {
  switch (kind) {
    case 'kind':
      return new KindProvider({ log });
    case 'k3d':
      return new K3dProvider({ log });
    case 'existing':
      return new ExistingProvider();
  }
}
