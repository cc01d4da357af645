package dev.tourniquet.servlet;

import java.nio.file.Path;

/** The filter in embedded Tomcat 11. */
class TomcatEnforcementTest extends ContainerEnforcementTest {
  @Override
  Container start(TourniquetFilter filter, TestApp app, Path workDir, String contextPath) throws Exception {
    return Container.tomcat(filter, app, workDir, contextPath);
  }
}
