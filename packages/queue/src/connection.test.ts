import { describe, expect, it } from 'vitest';
import { redisConnection } from './connection.js';

describe('redisConnection', () => {
  it('reads host, port, database and credentials from a redis:// URL', () => {
    expect(redisConnection('redis://127.0.0.1:6390')).toMatchObject({ host: '127.0.0.1', port: 6390, db: 0, maxRetriesPerRequest: null });
    expect(redisConnection('redis://user:p%40ss@queue.internal/3')).toMatchObject({
      host: 'queue.internal',
      port: 6379,
      db: 3,
      username: 'user',
      password: 'p@ss',
    });
    expect(redisConnection('rediss://h:1')).toMatchObject({ tls: {} });
  });

  it('names --queue for what is not a redis URL', () => {
    expect(() => redisConnection('127.0.0.1:6379')).toThrow(/--queue.*redis:\/\/host:port/);
    expect(() => redisConnection('http://127.0.0.1:6379')).toThrow(/not a redis:\/\/ URL/);
    expect(() => redisConnection('redis://h:1/x')).toThrow(/database number/);
  });
});
