/** The fleet server: feed hosting, push hints, organisation policy, enrolment, reports, dashboard. */
package dev.tourniquet.server;
