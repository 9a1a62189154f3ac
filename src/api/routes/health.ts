/**
 * Readiness: the gateway can place calls only while its ARI connection is up and it is not shutting
 * down, so `GET /health` answers 503 otherwise (load balancers and `curl -f` treat that as not
 * ready). The trunk's state is reported but does not change the status code: Asterisk qualifies it
 * only every qualify_frequency seconds, so right after an Asterisk start it reads `offline` for up
 * to a minute although calls go through.
 */
import type { ServerRoute } from '@hapi/hapi';
import type { CallApi } from '../../model/call-api';
import type { TrunkHealth } from '../../model/call-view';
import { RETRY_AFTER_S } from '../error-mapping';
import { healthSchema } from '../schemas';

/** Body of `GET /health` (200 and 503 alike). */
export interface HealthBody {
  status: 'ok' | 'unavailable';
  ari: 'connected' | 'disconnected';
  active_calls: number;
  /** False during a graceful stop (new calls get 503). */
  accepting_calls: boolean;
  /** `failing` while call records cannot be written (new calls get 503 STORE_UNAVAILABLE). */
  store: 'ok' | 'failing';
  /** The SIP trunk endpoint's state over ARI; present when the service reports it. */
  trunk?: TrunkHealth;
  version: string;
}

/** `GET /health`, reporting `calls.health()` and the service `version`. */
export function healthRoutes(calls: CallApi, version: string): ServerRoute[] {
  return [
    {
      method: 'GET',
      path: '/health',
      handler: async (_request, h) => {
        const { ari, activeCalls, isAccepting, store } = calls.health();
        const trunk = await calls.trunkHealth?.();
        // A failing store refuses new calls (503 STORE_UNAVAILABLE) while live calls go on.
        const isReady = ari === 'connected' && isAccepting && store === 'ok';
        const body: HealthBody = {
          status: isReady ? 'ok' : 'unavailable',
          ari,
          active_calls: activeCalls,
          accepting_calls: isAccepting,
          store,
          ...(trunk === undefined ? {} : { trunk }),
          version,
        };
        const response = h.response(body).code(isReady ? 200 : 503);
        return isReady ? response : response.header('Retry-After', String(RETRY_AFTER_S));
      },
      options: {
        tags: ['api', 'health'],
        description: 'Readiness: 200 while connected to Asterisk (ARI), accepting calls and able to write call records, else 503; reports the trunk state',
        auth: false, // load balancers and probes carry no token; the body holds nothing sensitive
        cache: { otherwise: 'no-store' },
        response: { status: { 200: healthSchema, 503: healthSchema } },
        plugins: {
          'hapi-swagger': {
            responses: {
              200: { description: 'Ready', schema: healthSchema },
              503: { description: 'Not ready: ARI disconnected, shutting down, or call records cannot be written', schema: healthSchema },
            },
          },
        },
      },
    },
  ];
}
