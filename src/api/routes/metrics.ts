/**
 * `GET /metrics`: Prometheus text exposition of the gateway's registry. Not in the OpenAPI docs
 * (it is for scrapers, not API clients).
 *
 * Auth: METRICS_TOKEN when set (a scrape-only credential: Prometheus must not hold a token that
 * can place calls), otherwise open — the metrics carry no phone numbers or ids, only bounded labels.
 */
import type { ServerRoute } from '@hapi/hapi';
import type { GatewayMetrics } from '../../metrics/metrics';

/** Path scraped by Prometheus. */
export const METRICS_PATH = '/metrics';

/** The metrics route; `auth` is a strategy name or `false` (open). */
export function metricsRoutes(metrics: GatewayMetrics, auth: string | false): ServerRoute[] {
  return [
    {
      method: 'GET',
      path: METRICS_PATH,
      handler: async (_request, h) => h.response(await metrics.render()).type(metrics.contentType),
      options: {
        auth,
        cache: { otherwise: 'no-store' },
        description: 'Prometheus metrics (text format 0.0.4)',
      },
    },
  ];
}
