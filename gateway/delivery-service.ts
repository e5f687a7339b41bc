import type { ServiceFactory } from './gateway.js';

/** Placeholder until the delivery engine lands: no service. */
export const createDeliveryService: ServiceFactory = async () => undefined;
