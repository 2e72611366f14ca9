import { describe, expect, it } from 'vitest';
import { grantScopes, parseGrantedScopes, scopesAllowRead, scopesAllowWrite, validateRegistrationScope } from './scopes.js';

describe('grantScopes', () => {
  it('intersects with wildcards on either side', () => {
    expect(grantScopes('system/Observation.rs', 'system/*.rs')).toMatchObject({ ok: true, scope: 'system/Observation.rs' });
    expect(grantScopes('system/*.rs', 'system/Observation.r')).toMatchObject({ ok: true, scope: 'system/Observation.r' });
    expect(grantScopes('system/*.read', 'system/*.r')).toMatchObject({ ok: true, scope: 'system/*.r' });
    expect(grantScopes('system/Patient.r system/Patient.s', 'system/*.rs')).toMatchObject({ ok: true, scope: 'system/Patient.rs' });
    expect(grantScopes('system/Patient.rs', 'system/Observation.rs')).toMatchObject({ ok: false });
  });

  it('keeps the read part of read-write scopes only', () => {
    expect(grantScopes('system/*.cruds', 'system/*.rs')).toMatchObject({ ok: true, scope: 'system/*.rs' });
    expect(grantScopes('system/Observation.crud', 'system/*.rs')).toMatchObject({ ok: true, scope: 'system/Observation.r' });
    expect(grantScopes('system/*.cud', 'system/*.rs').ok).toBe(false);
  });

  it('keeps create and delete on Group (the only type written) when pre-authorized, nowhere else', () => {
    const pre = 'system/*.rs system/Group.cd';
    expect(grantScopes('system/*.cruds', pre)).toMatchObject({ ok: true, scope: 'system/*.rs system/Group.cd' });
    expect(grantScopes('system/*.*', pre)).toMatchObject({ ok: true, scope: 'system/*.read system/Group.cd' });
    expect(grantScopes('system/Group.write', pre)).toMatchObject({ ok: true, scope: 'system/Group.cd' });
    expect(grantScopes('system/Group.c', pre)).toMatchObject({ ok: true, scope: 'system/Group.c' });
    expect(grantScopes('system/Group.cruds', pre)).toMatchObject({ ok: true, scope: 'system/Group.crds' });
    expect(grantScopes('system/*.write', pre)).toMatchObject({ ok: true, scope: 'system/Group.cd' });
    expect(grantScopes('system/Group.cd', 'system/*.rs').ok).toBe(false);
    expect(grantScopes('system/Group.d', 'system/Group.c').ok).toBe(false);
    expect(grantScopes('system/Observation.cud', pre).ok).toBe(false);
    expect(grantScopes('system/Observation.crud', pre)).toMatchObject({ ok: true, scope: 'system/Observation.r' });
  });
});

describe('scopesAllowWrite', () => {
  it('answers create and delete on Group from granted scopes', () => {
    const scopes = parseGrantedScopes('system/*.rs system/Group.c');
    expect(scopesAllowWrite(scopes, 'Group', 'c')).toBe(true);
    expect(scopesAllowWrite(scopes, 'Group', 'd')).toBe(false);
    expect(scopesAllowWrite(parseGrantedScopes('system/*.rs'), 'Group', 'c')).toBe(false);
    expect(scopesAllowWrite(parseGrantedScopes('system/Group.crds'), 'Group', 'd')).toBe(true);
    expect(scopesAllowRead(parseGrantedScopes('system/Group.cd'), 'Group')).toBe(false);
  });
});

describe('scopesAllowRead', () => {
  it('answers from granted scopes', () => {
    const scopes = parseGrantedScopes('system/Observation.rs system/Patient.read');
    expect(scopesAllowRead(scopes, 'Observation')).toBe(true);
    expect(scopesAllowRead(scopes, 'Patient')).toBe(true);
    expect(scopesAllowRead(scopes, 'Condition')).toBe(false);
    expect(scopesAllowRead(parseGrantedScopes('system/*.r'), 'Condition')).toBe(true);
    expect(scopesAllowRead(parseGrantedScopes(''), 'Condition')).toBe(false);
  });
});

describe('validateRegistrationScope', () => {
  it('accepts read system scopes and Group create and delete, and refuses the rest', () => {
    expect(validateRegistrationScope('system/*.rs  system/Patient.read system/*.rs')).toEqual({ ok: true, scope: 'system/*.rs system/Patient.read' });
    expect(validateRegistrationScope('system/*.rs system/Group.cd')).toEqual({ ok: true, scope: 'system/*.rs system/Group.cd' });
    expect(validateRegistrationScope('system/Group.crds').ok).toBe(true);
    for (const bad of ['', 'system/*.cruds', 'system/*.*', 'system/*.write', 'system/*.cd', 'system/Group.write', 'system/Group.cruds', 'system/Observation.cd', 'patient/*.read', 'system/Foo.rs', 'system/*.rs?x=y']) {
      expect(validateRegistrationScope(bad).ok, bad).toBe(false);
    }
  });
});
