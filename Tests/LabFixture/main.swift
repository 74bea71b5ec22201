// dpucert-lab-fixture: a stand-in process for lab tests.
//   agent ARGS...  runs the agent exactly as `dpucert agent ARGS...` does
//   silent         stands in for an agent that never gets ready: prints nothing, waits (at most 120 s) to be killed
//   hold NAME [FAULT...]  brings lab NAME up, prints "ready", and waits (at most 120 s) to be killed
//   down NAME      removes lab NAME
import Agent
import Foundation
import Lab

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    switch arguments.first {
    case "agent":
        try AgentServer.run(configuration: AgentConfiguration(commandLine: Array(arguments.dropFirst())))
    case "silent":
        Thread.sleep(forTimeInterval: 120)
    case "hold" where arguments.count >= 2:
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let faults = try arguments.dropFirst(2).map { (name: String) throws(LabError) in try LabFault.named(name) }
        let lab = try Lab.up(LabSpec(name: arguments[1], agent: AgentLauncher(executable: executable, arguments: ["agent"]),
                                     tenantCount: 2), faults: faults)
        print("ready \(lab.name)")
        fflush(nil)
        Thread.sleep(forTimeInterval: 120)
        try lab.down()
    case "down" where arguments.count == 2:
        try Lab.down(name: arguments[1])
    default:
        FileHandle.standardError.write(Data("usage: dpucert-lab-fixture agent ARGS... | silent | hold NAME [FAULT...] | down NAME\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("dpucert-lab-fixture: \(error)\n".utf8))
    exit(1)
}
