/** The feature plugins, in registration order. Each is `(app, { ctx }) => Promise<void>`. */
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from './context.js';

export type Feature = (app: FastifyInstance, opts: { ctx: ServerContext }) => Promise<void>;

export const features: Feature[] = [];
import { imageRepoPlugin } from './plugins/image-repo.js'; features.push(imageRepoPlugin);
import { imagesPlugin } from './plugins/images.js'; features.push(imagesPlugin);
import { directorPlugin } from './plugins/director.js'; features.push(directorPlugin);
import { vehiclesPlugin } from './plugins/vehicles.js'; features.push(vehiclesPlugin);
import { devicePlugin } from './plugins/device.js'; features.push(devicePlugin);
import { assignmentsPlugin } from './plugins/assignments.js'; features.push(assignmentsPlugin);
import { tokensPlugin } from './plugins/tokens.js'; features.push(tokensPlugin);
import { logPlugin } from './plugins/log.js'; features.push(logPlugin);
import { directorKeysPlugin } from './plugins/director-keys.js'; features.push(directorKeysPlugin);
import { campaignsPlugin } from './plugins/campaigns.js'; features.push(campaignsPlugin);
import { sumsPlugin } from './plugins/sums.js'; features.push(sumsPlugin);
