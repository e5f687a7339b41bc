/** Which page a location shows; portal tokens get only their tenant's pages. */
import type { Location } from '../router.js';
import type { Principal } from '../session.js';
import { ApiRefPage } from './api-ref.js';
import { CataloguePage } from './catalogue.js';
import { ConfigPage } from './config.js';
import { EndpointDetailPage } from './endpoint-detail.js';
import { EndpointFormPage } from './endpoint-form.js';
import { EndpointsPage } from './endpoints.js';
import { MessageDetailPage } from './message-detail.js';
import { MessagesPage } from './messages.js';
import { OverviewPage } from './overview.js';
import { RequestsPage, RequestDetailPage } from './requests.js';

export interface PageProps {
  loc: Location;
  principal: Principal;
}

export function Pages({ loc, principal }: PageProps) {
  const [a, b, c, d] = loc.parts;
  const portal = principal.role === 'portal';
  // Pages a portal token may open: its tenant's endpoints and messages (the server checks the tenant).
  if (a === 'tenants' && b) {
    if (c === 'messages') return <MessagesPage loc={loc} principal={principal} tenant={b} />;
    if (c === 'endpoints' && d === 'new') return <EndpointFormPage principal={principal} tenant={b} />;
    return <EndpointsPage loc={loc} principal={principal} tenant={b} />;
  }
  if (a === 'endpoints' && b === 'new') return <EndpointFormPage principal={principal} tenant={portal ? principal.tenant : undefined} />;
  if (a === 'endpoints' && b && c === 'edit') return <EndpointFormPage principal={principal} id={b} tenant={portal ? principal.tenant : undefined} />;
  if (a === 'endpoints' && b) return <EndpointDetailPage id={b} principal={principal} />;
  if (a === 'messages' && b) return <MessageDetailPage id={b} principal={principal} />;
  if (a === 'catalogue') return <CataloguePage />;
  if (portal) {
    return (
      <>
        <h1>Not part of the portal</h1>
        <p class="notice" role="alert">
          The customer portal shows your own endpoints and messages only.
        </p>
      </>
    );
  }
  if (a === 'endpoints') return <EndpointsPage loc={loc} principal={principal} />;
  if (a === 'messages') return <MessagesPage loc={loc} principal={principal} />;
  if (a === 'requests' && b) return <RequestDetailPage id={b} />;
  if (a === 'requests') return <RequestsPage loc={loc} />;
  if (a === 'api') return <ApiRefPage />;
  if (a === 'config') return <ConfigPage principal={principal} />;
  return <OverviewPage />;
}
