/** The feature plugins, in registration order. Each is `(app, { ctx }) => Promise<void>`. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

export type Feature = (app: FastifyInstance, opts: { ctx: ServerContext }) => Promise<void>;

export const features: Feature[] = [];
