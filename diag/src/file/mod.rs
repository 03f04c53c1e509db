//! Tree files: YAML, as ROS users write them, loaded into a TreeSpec with every problem reported.
