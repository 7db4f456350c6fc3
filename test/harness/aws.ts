// Local stand-ins for the AWS endpoints vigil talks to; see the two modules for details.
export * from './aws-autoscaling.js';
export * from './aws-imds.js';
