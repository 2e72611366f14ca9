/** Vaccines (CVX) with the ages they are given at. */
import { type CodeableConcept, concept, CVX } from './codes.js';

export interface Vaccine {
  code: CodeableConcept;
  minAge: number;
  maxAge: number;
}
const vax = (code: string, display: string, minAge: number, maxAge: number): Vaccine => ({
  code: concept(CVX, code, display),
  minAge,
  maxAge,
});
export const FLU_VACCINE = vax('140', 'Influenza, seasonal, injectable, preservative free', 0.5, 120);
export const COVID_VACCINE = vax('208', 'SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose', 12, 120);
export const ROUTINE_VACCINES: readonly Vaccine[] = [
  vax('08', 'Hep B, adolescent or pediatric', 0, 1),
  vax('20', 'DTaP', 0.1, 7),
  vax('10', 'IPV', 0.1, 7),
  vax('49', 'Hib (PRP-OMP)', 0.1, 5),
  vax('133', 'Pneumococcal conjugate PCV 13', 0.1, 5),
  vax('03', 'MMR', 1, 7),
  vax('21', 'varicella', 1, 13),
  vax('83', 'Hep A, ped/adol, 2 dose', 1, 19),
  vax('62', 'HPV, quadrivalent', 9, 27),
  vax('114', 'meningococcal MCV4P', 11, 19),
  vax('115', 'Tdap', 11, 120),
  vax('113', 'Td (adult), 5 Lf tetanus toxoid, preservative free, adsorbed', 19, 120),
  vax('187', 'zoster recombinant', 50, 120),
  vax('33', 'pneumococcal polysaccharide vaccine, 23 valent', 65, 120),
];
