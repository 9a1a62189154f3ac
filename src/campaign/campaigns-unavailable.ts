/**
 * The campaign API of a gateway that runs no campaigns: a node of a cluster (DATABASE_URL). The
 * campaign runner is one scheduler per process, holding each campaign's calls in flight and
 * settling them after a restart from the process's own records; several nodes sharing one database
 * would each dial the same leads. So a cluster refuses campaigns, clearly, on every route (still
 * behind the same guards and token as the rest of the API) and says why: docs/cluster.md#campaigns.
 */
import { NotAvailableError } from '../errors';
import type { CampaignApi } from '../model/campaign';

export const CAMPAIGNS_NOT_IN_CLUSTER = 'CAMPAIGNS_NOT_IN_CLUSTER';
const WHY = 'campaigns run on a single gateway; this one is a node of a cluster (DATABASE_URL is set), which does not run them';

function refuse(): never {
  throw new NotAvailableError(CAMPAIGNS_NOT_IN_CLUSTER, WHY);
}

export class CampaignsUnavailable implements CampaignApi {
  /** Why, for the start-up log. */
  static readonly reason = WHY;

  async createCampaign(): Promise<never> {
    refuse();
  }
  async getCampaign(): Promise<never> {
    refuse();
  }
  async listCampaigns(): Promise<never> {
    refuse();
  }
  async listLeads(): Promise<never> {
    refuse();
  }
  async pause(): Promise<never> {
    refuse();
  }
  async resume(): Promise<never> {
    refuse();
  }
  async cancel(): Promise<never> {
    refuse();
  }
}
