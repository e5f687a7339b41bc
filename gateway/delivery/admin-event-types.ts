/**
 * Admin routes of the event catalogue: list, read, create, change and delete event types, and
 * send a type's example to one endpoint. The routes check input (with the rules gateway.yaml's
 * schema gives `eventTypes`) and map HTTP; the event type directory owns the changes.
 */
import { eventTypeCreateBody, eventTypePatchBody, eventTypeSpecs, sendExampleBody } from '../apidocs/event-type-specs.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { AdminServer, AdminRequest } from '../admin/server.js';
import type { CatalogueEntry, EventTypeDefinition } from '../catalogue/catalogue.js';
import type { EventTypeChanges } from '../catalogue/event-types.js';
import { ajv, describeAjvError, formatPath, gatewaySchema, pickError } from '../config/load.js';
import { Errors } from '../errors.js';
import type { DeliveryEngine } from './engine.js';

const bad = Errors.ADMIN_BAD_INPUT;
const DEFS = gatewaySchema().$defs as Record<string, Record<string, any>>;
const EVENT_VERSIONS_SCHEMA = { $ref: '#/$defs/eventVersions', $defs: DEFS };

const validateCreate: ValidateFunction = ajv.compile(eventTypeCreateBody);
const validatePatch = ajv.compile(eventTypePatchBody);
const validateSendExample = ajv.compile(sendExampleBody);
const validateEventVersions = ajv.compile(EVENT_VERSIONS_SCHEMA);

function checked<T>(validate: ValidateFunction, body: unknown, what = ''): T {
  const value = body === undefined ? {} : body;
  if (!validate(value)) {
    const e = describeAjvError(pickError(validate.errors ?? []));
    throw bad(`${what}${e.path.length ? `${formatPath(e.path)}: ` : ''}${e.message}`);
  }
  return value as T;
}

/** Checks an endpoint's `eventVersions` (admin input) with the schema gateway.yaml uses. */
export function checkEventVersions(v: unknown): Record<string, number> {
  return checked<Record<string, number>>(validateEventVersions, v, 'eventVersions');
}

/** An event type as the API shows it. */
export function eventTypeView(e: CatalogueEntry): Record<string, unknown> {
  return {
    name: e.name,
    version: e.version,
    description: e.description ?? null,
    schema: e.schema ?? null,
    schemaFile: e.schemaFile ?? null,
    deprecated: e.deprecated ?? null,
    examples: e.examples,
    policy: e.policy ?? null,
    source: e.source,
    createdAt: e.createdAt === undefined ? null : new Date(e.createdAt).toISOString(),
    updatedAt: e.updatedAt === undefined ? null : new Date(e.updatedAt).toISOString(),
  };
}

function versionParam(req: AdminRequest): number | undefined {
  const q = req.url.searchParams;
  for (const k of q.keys()) if (k !== 'version') throw bad(`unknown query parameter "${k}"`);
  const raw = q.get('version');
  if (raw === null) return undefined;
  const v = Number(raw);
  if (!/^[1-9][0-9]{0,8}$/.test(raw)) throw bad('"version" must be an integer of at least 1');
  return v;
}

function checkSunset(d: { sunset: string } | null | undefined): void {
  if (d && Number.isNaN(Date.parse(d.sunset))) throw bad(`"deprecated.sunset": invalid date "${d.sunset}"`);
}

/** Registers `/admin/event-types` and `POST /admin/endpoints/{id}/send-example`. */
export function registerEventTypeAdmin(admin: AdminServer, engine: DeliveryEngine): void {
  const types = engine.eventTypes;
  admin.eventCatalogue = () => types.fresh();
  /**
   * One version: the one `?version=` names, else the latest for reading. A change or a delete of
   * a type with several versions must say which.
   */
  const mustType = async (req: AdminRequest, forChange: boolean): Promise<CatalogueEntry> => {
    const name = req.params.name!;
    const version = versionParam(req);
    const catalogue = await types.fresh();
    const versions = catalogue.versions(name);
    if (versions.length === 0) throw Errors.EVENT_TYPE_NOT_FOUND(`no event type ${name}`);
    if (version === undefined && forChange && versions.length > 1) throw bad(`event type ${name} has versions ${versions.join(', ')}: name one with ?version=`);
    const entry = catalogue.get(name, version);
    if (!entry) throw Errors.EVENT_TYPE_NOT_FOUND(`event type ${name} has no version ${version} (versions: ${versions.join(', ')})`);
    return entry;
  };

  admin.route('GET', '/admin/event-types', async () => ({ status: 200, body: { eventTypes: (await types.fresh()).list().map(eventTypeView) } }), eventTypeSpecs.list);

  admin.route('POST', '/admin/event-types', async (req) => {
    const def = checked<EventTypeDefinition>(validateCreate, structuredClone(req.body));
    checkSunset(def.deprecated);
    return { status: 201, body: eventTypeView(await types.create(def)) };
  }, eventTypeSpecs.create);

  admin.route('GET', '/admin/event-types/:name', async (req) => ({ status: 200, body: eventTypeView(await mustType(req, false)) }), eventTypeSpecs.get);

  admin.route('PATCH', '/admin/event-types/:name', async (req) => {
    const entry = await mustType(req, true);
    const changes = checked<EventTypeChanges>(validatePatch, req.body);
    checkSunset(changes.deprecated);
    return { status: 200, body: eventTypeView(await types.update(entry, changes)) };
  }, eventTypeSpecs.update);

  admin.route('DELETE', '/admin/event-types/:name', async (req) => {
    const entry = await mustType(req, true);
    await types.remove(entry);
    return { status: 200, body: { deleted: entry.name, version: entry.version } };
  }, eventTypeSpecs.remove);

  admin.route('POST', '/admin/endpoints/:id/send-example', async (req) => {
    const ep = await engine.endpoints.find(req.params.id!);
    if (!ep) throw Errors.ENDPOINT_NOT_FOUND(req.params.id!);
    const b = checked<{ eventType: string; version?: number }>(validateSendExample, req.body);
    const catalogue = await types.fresh();
    // The endpoint's pin decides the version when the caller names none: it gets what it would get.
    const version = b.version ?? ep.eventVersions?.[b.eventType];
    const entry = catalogue.get(b.eventType, version);
    if (!entry) throw Errors.EVENT_TYPE_NOT_FOUND(version === undefined ? `no event type ${b.eventType}` : `event type ${b.eventType} has no version ${version}`);
    if (entry.examples.length === 0) throw bad(`event type ${entry.name} v${entry.version} has no examples`);
    const r = await engine.publish({ type: entry.name, version: entry.version, data: entry.examples[0] }, { onlyEndpoint: ep.id });
    return { status: 202, body: { id: r.id, endpoint: ep.id, eventType: entry.name, version: entry.version } };
  }, eventTypeSpecs.sendExample);
}
