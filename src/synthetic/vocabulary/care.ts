/** Care team roles, care plan categories and goal states. */
import { codeOnly, concept, SNOMED } from './codes.js';

export const CAREPLAN_ASSESS_PLAN = codeOnly(
  'http://hl7.org/fhir/us/core/CodeSystem/careplan-category',
  'assess-plan',
  'Assessment and Plan of Treatment',
);
export const CARE_TEAM_ROLE = {
  professional: [concept(SNOMED, '223366009', 'Healthcare professional (occupation)')],
  patient: [concept(SNOMED, '116154003', 'Patient (person)')],
  caregiver: [concept(SNOMED, '133932002', 'Caregiver (person)')],
  organization: [concept(SNOMED, '224891009', 'Healthcare services (qualifier value)')],
};

const GOAL_ACHIEVEMENT = 'http://terminology.hl7.org/CodeSystem/goal-achievement';
export const GOAL_IN_PROGRESS = codeOnly(GOAL_ACHIEVEMENT, 'in-progress', 'In Progress');
export const GOAL_ACHIEVED = codeOnly(GOAL_ACHIEVEMENT, 'achieved', 'Achieved');

/** The health maintenance plan every patient has, and its general goal (for children, and for adults). */
export const HEALTH_MAINTENANCE = {
  category: concept(SNOMED, '734163000', 'Care plan (record artifact)', 'Health maintenance'),
  activities: [concept(SNOMED, '226234005', 'Healthy diet (finding)'), concept(SNOMED, '229065009', 'Exercise therapy (regime/therapy)')],
  goal: {
    child: 'Maintain age-appropriate growth and development',
    adult: 'Increase physical activity to 150 minutes per week',
  },
  conditionText: 'health maintenance',
};
