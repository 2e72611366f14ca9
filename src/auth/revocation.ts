import type { ClientStore } from '../store/ports.js';

/**
 * The token revocation list every API process checks after a token's signature: a client disabled or removed has
 * its tokens issued until then voided at once (the store records the instant, so every process of a PostgreSQL
 * deployment sees it). The list holds only revocations younger than the longest token lifetime, so it stays
 * small; it is read again at most every `cacheMs` (0: on every check), one indexed range read shared by the
 * concurrent checks of that moment.
 */
export interface RevocationList {
  /** Whether a token of `clientId` issued at `issuedAt` (epoch seconds, the `iat` claim; absent: revoked if any) is void. */
  isRevoked(clientId: string, issuedAt: number | undefined): Promise<boolean>;
  /** Forgets the cached list, so this process sees at once a revocation it has just made. */
  invalidate(): void;
}

export function createRevocationList(deps: {
  clients: Pick<ClientStore, 'revocations'>;
  /** How long a read list is used (ms). */
  cacheMs: number;
  /** How far back revocations matter (ms): the longest token lifetime and the clock skew allowed. */
  lookbackMs: number;
  now?: () => number;
}): RevocationList {
  const now = deps.now ?? Date.now;
  let cached: { at: number; list: Map<string, number> } | undefined;
  let loading: Promise<Map<string, number>> | undefined;

  const current = async (): Promise<Map<string, number>> => {
    const t = now();
    if (cached && t - cached.at < deps.cacheMs) return cached.list;
    if (!loading) {
      loading = deps.clients
        .revocations(t - deps.lookbackMs)
        .then((list) => {
          cached = { at: t, list };
          return list;
        })
        .finally(() => {
          loading = undefined;
        });
    }
    return loading;
  };

  return {
    async isRevoked(clientId, issuedAt) {
      const revokedAt = (await current()).get(clientId);
      if (revokedAt === undefined) return false;
      // `iat` has whole seconds: a token issued in the second of its client's revocation counts as before it.
      return issuedAt === undefined || issuedAt * 1000 < revokedAt;
    },
    invalidate() {
      cached = undefined;
    },
  };
}
