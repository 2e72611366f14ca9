/** Names, places and the coded demographics of synthetic people (ASCII only; all fictional combinations). */
import { concept } from './codes.js';

export const MALE_NAMES: readonly string[] = [
  'James', 'Robert', 'John', 'Michael', 'David', 'William', 'Richard', 'Joseph', 'Thomas', 'Charles',
  'Christopher', 'Daniel', 'Matthew', 'Anthony', 'Mark', 'Donald', 'Steven', 'Paul', 'Andrew', 'Joshua',
  'Kenneth', 'Kevin', 'Brian', 'George', 'Timothy', 'Ronald', 'Jason', 'Edward', 'Jeffrey', 'Ryan',
  'Jacob', 'Gary', 'Nicholas', 'Eric', 'Jonathan', 'Stephen', 'Larry', 'Justin', 'Scott', 'Brandon',
  'Carlos', 'Luis', 'Jose', 'Miguel', 'Wei', 'Minh', 'Ahmed', 'Omar', 'Samuel', 'Elijah',
];
export const FEMALE_NAMES: readonly string[] = [
  'Mary', 'Patricia', 'Jennifer', 'Linda', 'Elizabeth', 'Barbara', 'Susan', 'Jessica', 'Sarah', 'Karen',
  'Lisa', 'Nancy', 'Betty', 'Margaret', 'Sandra', 'Ashley', 'Kimberly', 'Emily', 'Donna', 'Michelle',
  'Carol', 'Amanda', 'Dorothy', 'Melissa', 'Deborah', 'Stephanie', 'Rebecca', 'Sharon', 'Laura', 'Cynthia',
  'Kathleen', 'Amy', 'Angela', 'Shirley', 'Anna', 'Brenda', 'Pamela', 'Emma', 'Nicole', 'Helen',
  'Maria', 'Sofia', 'Lucia', 'Camila', 'Mei', 'Lan', 'Fatima', 'Aisha', 'Grace', 'Olivia',
];
export const FAMILY_NAMES: readonly string[] = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
  'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson',
  'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores',
  'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts',
  'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz', 'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes',
  'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan', 'Cooper',
  'Peterson', 'Bailey', 'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson',
  'Chen', 'Wang', 'Tran', 'Patel', 'Shah', 'Okafor', 'Novak', 'Kowalski', 'Schmidt', 'Larsen',
];
export const STREET_NAMES: readonly string[] = [
  'Main', 'Oak', 'Pine', 'Maple', 'Cedar', 'Elm', 'Washington', 'Lake', 'Hill', 'Park',
  'Walnut', 'Spring', 'North', 'Ridge', 'Church', 'Willow', 'Mill', 'Sunset', 'Railroad', 'Jackson',
  'Highland', 'Forest', 'River', 'Meadow', 'Chestnut', 'Franklin', 'Lincoln', 'Madison', 'Cherry', 'Birch',
];
export const STREET_SUFFIXES: readonly string[] = ['Street', 'Avenue', 'Road', 'Lane', 'Drive', 'Court', 'Way', 'Boulevard'];

export interface City {
  city: string;
  state: string;
  /** First three digits of its ZIP codes. */
  zip: string;
  areaCode: string;
  latitude: number;
  longitude: number;
}
const city = (c: string, state: string, zip: string, areaCode: string, latitude: number, longitude: number): City => ({
  city: c,
  state,
  zip,
  areaCode,
  latitude,
  longitude,
});
export const CITIES: readonly City[] = [
  city('Springfield', 'MA', '011', '413', 42.1015, -72.5898),
  city('Worcester', 'MA', '016', '508', 42.2626, -71.8023),
  city('Burlington', 'VT', '054', '802', 44.4759, -73.2121),
  city('Albany', 'NY', '122', '518', 42.6526, -73.7562),
  city('Harrisburg', 'PA', '171', '717', 40.2732, -76.8867),
  city('Richmond', 'VA', '232', '804', 37.5407, -77.436),
  city('Raleigh', 'NC', '276', '919', 35.7796, -78.6382),
  city('Columbia', 'SC', '292', '803', 34.0007, -81.0348),
  city('Savannah', 'GA', '314', '912', 32.0809, -81.0912),
  city('Tallahassee', 'FL', '323', '850', 30.4383, -84.2807),
  city('Nashville', 'TN', '372', '615', 36.1627, -86.7816),
  city('Columbus', 'OH', '432', '614', 39.9612, -82.9988),
  city('Madison', 'WI', '537', '608', 43.0731, -89.4012),
  city('Des Moines', 'IA', '503', '515', 41.5868, -93.625),
  city('Kansas City', 'MO', '641', '816', 39.0997, -94.5786),
  city('Omaha', 'NE', '681', '402', 41.2565, -95.9345),
  city('Austin', 'TX', '787', '512', 30.2672, -97.7431),
  city('Tulsa', 'OK', '741', '918', 36.154, -95.9928),
  city('Denver', 'CO', '802', '303', 39.7392, -104.9903),
  city('Albuquerque', 'NM', '871', '505', 35.0844, -106.6504),
  city('Boise', 'ID', '837', '208', 43.615, -116.2023),
  city('Sacramento', 'CA', '958', '916', 38.5816, -121.4944),
  city('Salem', 'OR', '973', '503', 44.9429, -123.0351),
  city('Spokane', 'WA', '992', '509', 47.6588, -117.426),
];

const ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';

export const RELATIONSHIP = {
  mother: concept(ROLE_CODE, 'MTH', 'mother'),
  father: concept(ROLE_CODE, 'FTH', 'father'),
  spouse: concept(ROLE_CODE, 'SPS', 'spouse'),
  child: concept(ROLE_CODE, 'CHILD', 'child'),
  sibling: concept(ROLE_CODE, 'SIB', 'sibling'),
  friend: concept(ROLE_CODE, 'FRND', 'unrelated friend'),
  emergencyContact: concept('http://terminology.hl7.org/CodeSystem/v2-0131', 'C', 'Emergency Contact'),
};

const MARITAL = 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus';
export const MARITAL_STATUS = {
  married: concept(MARITAL, 'M', 'Married'),
  single: concept(MARITAL, 'S', 'Never Married'),
  divorced: concept(MARITAL, 'D', 'Divorced'),
  widowed: concept(MARITAL, 'W', 'Widowed'),
};
const LANGUAGE = 'urn:ietf:bcp:47';
export const LANGUAGES = {
  english: { language: concept(LANGUAGE, 'en-US', 'English (United States)', 'English'), preferred: true },
  spanish: { language: concept(LANGUAGE, 'es', 'Spanish', 'Spanish'), preferred: true },
  chinese: { language: concept(LANGUAGE, 'zh', 'Chinese', 'Chinese'), preferred: true },
  vietnamese: { language: concept(LANGUAGE, 'vi', 'Vietnamese', 'Vietnamese'), preferred: true },
};

const OMB = 'urn:oid:2.16.840.1.113883.6.238';
const RACE_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
const ETHNICITY_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
const omb = (url: string, code: string, display: string): object => ({
  url,
  extension: [
    { url: 'ombCategory', valueCoding: { system: OMB, code, display } },
    { url: 'text', valueString: display },
  ],
});
export const RACES: readonly (readonly [object, number])[] = [
  [omb(RACE_URL, '2106-3', 'White'), 60],
  [omb(RACE_URL, '2054-5', 'Black or African American'), 13],
  [omb(RACE_URL, '2028-9', 'Asian'), 6],
  [omb(RACE_URL, '1002-5', 'American Indian or Alaska Native'), 1],
  [omb(RACE_URL, '2076-8', 'Native Hawaiian or Other Pacific Islander'), 1],
  [omb(RACE_URL, '2131-1', 'Other Race'), 5],
];
export const ETHNICITY_HISPANIC = omb(ETHNICITY_URL, '2135-2', 'Hispanic or Latino');
export const ETHNICITY_NOT_HISPANIC = omb(ETHNICITY_URL, '2186-5', 'Not Hispanic or Latino');
const BIRTH_SEX_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex';
export const BIRTH_SEX = {
  female: { url: BIRTH_SEX_URL, valueCode: 'F' },
  male: { url: BIRTH_SEX_URL, valueCode: 'M' },
};
