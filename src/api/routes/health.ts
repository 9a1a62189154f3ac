/**
 * Readiness: the gateway can place calls only while its ARI connection is up, so `GET /health`
 * answers 503 otherwise (load balancers and `curl -f` treat that as not ready).
 */
import type { ServerRoute } from '@hapi/hapi';
import type { CallApi } from '../../call/call-view';
import { RETRY_AFTER_S } from '../error-mapping';
import { healthSchema } from '../schemas';

/** Body of `GET /health` (200 and 503 alike). */
export interface HealthBody {
  status: 'ok' | 'unavailable';
  ari: 'connected' | 'disconnected';
  active_calls: number;
  version: string;
}

/** `GET /health`, reporting `calls.health()` and the service `version`. */
export function healthRoutes(calls: CallApi, version: string): ServerRoute[] {
  return [
    {
      method: 'GET',
      path: '/health',
      handler: (_request, h) => {
        const { ari, activeCalls } = calls.health();
        const isReady = ari === 'connected';
        const body: HealthBody = { status: isReady ? 'ok' : 'unavailable', ari, active_calls: activeCalls, version };
        const response = h.response(body).code(isReady ? 200 : 503);
        return isReady ? response : response.header('Retry-After', String(RETRY_AFTER_S));
      },
      options: {
        tags: ['api', 'health'],
        description: 'Readiness: 200 while connected to Asterisk (ARI), else 503',
        auth: false, // load balancers and probes carry no token; the body holds nothing sensitive
        cache: { otherwise: 'no-store' },
        response: { status: { 200: healthSchema, 503: healthSchema } },
        plugins: {
          'hapi-swagger': {
            responses: {
              200: { description: 'Ready', schema: healthSchema },
              503: { description: 'Not ready: ARI disconnected', schema: healthSchema },
            },
          },
        },
      },
    },
  ];
}
